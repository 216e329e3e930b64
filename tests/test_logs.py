"""Log lines: the text layout as it was, JSON with only the known context, never a record's `extra`."""

from __future__ import annotations

import json
import logging
import re
import sys

import pytest

from bot.logs import JsonFormatter, configure_logging, current_context, log_context


@pytest.fixture
def root_handler():
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    handler = logging.StreamHandler()
    root.handlers[:] = [handler]
    yield handler
    root.handlers[:], root.level = saved


def record(message: str = "step %s applied", *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("bot.workflow", logging.INFO, __file__, 1, message, args or (7,), None)
    made.__dict__.update(extra)
    return made


def test_text_format_is_the_layout_it_always_had(root_handler):
    configure_logging("INFO", "text")
    with log_context(request_id="CR-ABC123"):
        line = root_handler.format(record())
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO bot.workflow: step 7 applied", line)
    assert logging.getLogger().level == logging.INFO


def test_json_lines_carry_the_context_and_never_a_records_extra(root_handler):
    configure_logging("DEBUG", "json")
    with log_context(request_id="CR-ABC123", step_id=7, slack_user="U0APPROVE", incident=None):
        line = json.loads(root_handler.format(record(password="hunter2", token="xoxb-secret")))
    assert set(line) == {"time", "level", "logger", "message", "request_id", "step_id", "slack_user"}
    assert (line["message"], line["request_id"], line["step_id"]) == ("step 7 applied", "CR-ABC123", "7")
    assert "hunter2" not in json.dumps(line) and "xoxb" not in json.dumps(line)


def test_a_traceback_stays_inside_its_one_json_line():
    try:
        raise ValueError("boom")
    except ValueError:
        made = logging.LogRecord("bot", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    [line] = JsonFormatter().format(made).splitlines()
    assert "ValueError: boom" in json.loads(line)["exception"]


def test_the_context_is_undone_when_the_block_ends():
    with log_context(request_id="CR-ABC123"):
        with log_context(step_id=3):
            assert current_context() == {"request_id": "CR-ABC123", "step_id": "3"}
        assert current_context() == {"request_id": "CR-ABC123"}
    assert current_context() == {}
