"""Names and helpers shared by the Slack end-to-end tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BOT_TOKEN = "xoxb-sandbox-0000000000-test-token"
SIGNING_SECRET = "sandbox-signing-secret-for-tests-only"
REQUESTER, APPROVER, OTHER, GROUP_MEMBER = "U0REQUEST", "U0APPROVE", "U0RANDOM", "U0INGROUP"


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll for something the bot does in the background (outbox, worker pool); fail with `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def sandbox_probes(sandbox: Any, **target: Any) -> dict[str, Any]:
    """A `probes` section aimed at the sandbox SMTP server with one target (printer by default)."""
    entry = {"name": "printer", "mailbox": "printer@contoso.com", "password": "Printer-Sandbox-1"} | target
    return {"smtp_host": "localhost", "port": sandbox.smtp.port, "ca_bundle": str(sandbox.ca_path),
            "timeout_seconds": 5, "targets": [entry]}


def top_level(standin: Any, channel: str) -> list[Any]:
    """A channel's messages outside threads: the cards (the requesters' notices are replies in their threads)."""
    return [m for m in standin.messages(channel) if m.thread_ts is None]
