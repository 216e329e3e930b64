"""Shared test data and the functions child processes run (spawned processes import them by name)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.store import Store

TTL = timedelta(hours=1)
STEPS: list[dict[str, Any]] = [
    {
        "handler_key": "mailbox_smtp_auth",
        "title": "Mailbox SMTP AUTH",
        "proposed": {"current": True, "new": False},
    },
    {
        "handler_key": "security_defaults",
        "title": "Security defaults",
        "proposed": {"current": True, "new": False},
    },
]


def approve_in_process(url: str, step_id: int, actor: str, start: Any) -> bool:
    """Child process: wait for the start signal, then try to approve `step_id`."""
    store = Store(url)
    store.engine.connect().close()  # connect before the race, not during it
    start.wait()
    try:
        return store.requests.transition_step(step_id, "pending", "approved", actor, "step.approved", decided_by=actor)
    finally:
        store.close()


def migrate_in_process(url: str, start: Any) -> str:
    """Child process: wait for the start signal, then migrate."""
    store = Store(url)
    start.wait()
    try:
        store.migrate()
        return "ok"
    finally:
        store.close()
