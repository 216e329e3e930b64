"""Bot state: change requests and steps, audit log, probe results, alert state, Slack outbox, leases.

`Store(url, clock)` over SQLite (a file; the default) or PostgreSQL (`postgresql://`, `postgres://` or
`postgresql+psycopg://`) is one `Database` and one object per aggregate: `store.requests` (change requests,
their steps, the audit log), `store.outbox`, `store.probes`, `store.alerts`, `store.leases`. `store.migrate()`
runs the Alembic migrations shipped in `migrations/`; call it at start-up (every replica may), or run
`python -m bot.store upgrade URL`. After changing `models.py`, write the next revision with
`python -m bot.store revision "what changed"`; the tests check models and migrations agree.

Every public method is one short transaction. Reads return frozen dataclasses (detached snapshots, never live
ORM objects), so callers can pass them between threads and cannot write through them. State changes go
through conditional UPDATEs (`requests.transition_step`, `requests.transition`, `alerts.save`, the outbox
marks) that report whether this caller won; a step or request transition the workflow's table does not list
is refused before the database is touched, and each one made writes its audit row in the same transaction.
No column holds a secret.
"""

from bot.store.alerts import AlertStore
from bot.store.database import UNREACHABLE, Database
from bot.store.engine import normalise_url
from bot.store.leases import LeaseStore
from bot.store.models import OutboxState
from bot.store.outbox import OutboxStore
from bot.store.probes import ProbeStore
from bot.store.records import AlertState, AuditEntry, OutboxItem, ProbeRecord
from bot.store.requests import STEP_FIELDS, RequestStore
from bot.store.store import Store

__all__ = [
    "OutboxState",
    "STEP_FIELDS",
    "UNREACHABLE",
    "AlertState",
    "AlertStore",
    "AuditEntry",
    "Database",
    "LeaseStore",
    "OutboxItem",
    "OutboxStore",
    "ProbeRecord",
    "ProbeStore",
    "RequestStore",
    "Store",
    "normalise_url",
]
