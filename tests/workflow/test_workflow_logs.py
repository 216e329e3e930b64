"""Structured logs of the workflow: JSON lines that carry the change request and step they are about."""

from __future__ import annotations

import io
import json
import logging

from test_workflow_execution import approved

from bot.logs import JsonFormatter


def test_json_lines_of_a_step_run_on_the_pool_carry_its_request_and_step(make_workflow, sandbox):
    flow = make_workflow()
    step_id = approved(flow, "scanner@contoso.com")
    sandbox.state.faults.add("status", service="exchange", cmdlet="Set-CASMailbox", status=503, times=None,
                             apply_first=True)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logging.getLogger("bot").addHandler(handler)
    try:
        done = flow.submit(step_id).result()
    finally:
        logging.getLogger("bot").removeHandler(handler)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    [warned] = [line for line in lines if "the change was made" in line["message"]]
    assert warned["request_id"] == done.request_id and done.request_id.startswith("CR-")
    assert (warned["step_id"], warned["level"], warned["logger"]) == (str(step_id), "WARNING",
                                                                       "bot.workflow.execution")
