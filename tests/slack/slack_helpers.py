"""Names and helpers shared by the Slack end-to-end tests."""

from __future__ import annotations

import json
import re
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


#: A time written out ("2026-11-28 09:22"), which every reader would have to convert from UTC.
BARE_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")
#: Slack's date token: its fallback may (must) hold the UTC text (https://api.slack.com/reference/surfaces/formatting).
DATE_TOKEN = re.compile(r"<!date\^\d{1,12}\^[^<>|]*\|[^<>|]*>")
#: What Slack sends to someone (messages, updates, ephemerals, views) among the stand-in's recorded calls.
SHOWN = ("chat.postMessage", "chat.update", "chat.postEphemeral", "views.publish", "views.open", "views.update")


def _parsed(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def bare_times(payload: dict[str, Any]) -> list[str]:
    """The mrkdwn in a message or view `payload` that shows a time outside a `<!date^…|…>` token.

    mrkdwn is every `{"type": "mrkdwn"}` text object, and a message's `text` when it has no blocks (Slack then
    shows it formatted). A `text` next to blocks (the notification fallback) and plain_text keep UTC text.
    """
    found: list[str] = []

    def scan(text: str) -> None:
        found.extend(m.group(0) + f" in {text[:200]!r}" for m in BARE_TIME.finditer(DATE_TOKEN.sub("", text)))

    def walk(node: Any) -> None:
        node = _parsed(node)
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
                scan(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    blocks = _parsed(payload.get("blocks"))
    if not blocks and isinstance(payload.get("text"), str) and "view" not in payload:
        scan(payload["text"])
    walk(blocks)
    walk(payload.get("view"))
    walk(payload.get("attachments"))
    return found


def times_not_local(standin: Any) -> list[str]:
    """Every time the bot showed in Slack as text rather than in the reader's zone (`bare_times`), by method."""
    shown = [(call.method, call.args) for call in standin.calls() if call.method in SHOWN]
    shown += [("response_url", response.payload) for response in standin.responses()]
    return [f"{method}: {hit}" for method, payload in shown for hit in bare_times(payload)]
