"""The log context crosses into the runtime's pool with the work that was submitted, and no further."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from bot.logs import FIELDS, current_context, log_context


def test_pool_work_runs_in_its_callers_context_and_leaves_none_behind(start_bot):
    runtime = start_bot().runtime
    old, runtime.pool = runtime.pool, ThreadPoolExecutor(max_workers=1)  # one thread: every task shares it
    old.shutdown(wait=True)
    seen: list[dict[str, str]] = []
    done = threading.Event()

    def tagged() -> None:
        seen.append(current_context())
        FIELDS["request_id"].set("CR-LEAKED")  # set without a reset: must die with this task

    with log_context(request_id="CR-ABC123", slack_user="U0APPROVE"):
        runtime.submit(tagged)
    runtime.submit(lambda: (seen.append(current_context()), done.set()))
    assert done.wait(10)
    assert seen == [{"request_id": "CR-ABC123", "slack_user": "U0APPROVE"}, {}]
