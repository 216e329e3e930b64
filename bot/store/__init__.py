"""Bot state: change requests and steps, audit log, probe results, alert state, Slack outbox, leases.

`Store(url, clock)` over SQLite (a file; the default) or PostgreSQL (`postgresql://`, `postgres://` or
`postgresql+psycopg://`). `store.migrate()` runs the Alembic migrations shipped in `migrations/`; call it at
start-up (every replica may), or run `python -m bot.store upgrade URL`. After changing `models.py`, write the
next revision with `python -m bot.store revision "what changed"`; the tests check models and migrations agree.

Every public method is one short transaction. Reads return frozen dataclasses from `records` (detached
snapshots, never live ORM objects), so callers can pass them between threads and cannot write through them.
State changes go through conditional UPDATEs (`transition_step`, `transition_request`, `save_alert`,
the outbox marks) that report whether this caller won; each step or request transition writes its audit row
in the same transaction. No column holds a secret.
"""

from bot.store.engine import normalise_url
from bot.store.models import OUTBOX_STATES, REQUEST_STATES, STEP_STATES, AppendOnlyViolation
from bot.store.records import AlertState, AuditEntry, ChangeRequest, OutboxItem, ProbeResult, Step
from bot.store.store import STEP_FIELDS, Store

__all__ = [
    "OUTBOX_STATES",
    "REQUEST_STATES",
    "STEP_FIELDS",
    "STEP_STATES",
    "AlertState",
    "AppendOnlyViolation",
    "AuditEntry",
    "ChangeRequest",
    "OutboxItem",
    "ProbeResult",
    "Step",
    "Store",
    "normalise_url",
]
