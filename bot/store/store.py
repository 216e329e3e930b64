"""The store a process builds: one database, one object per aggregate."""

from __future__ import annotations

from sqlalchemy.engine import URL

from bot.clock import SYSTEM_CLOCK, Clock
from bot.store.alerts import AlertStore
from bot.store.bulk import BulkStore
from bot.store.database import Database
from bot.store.leases import LeaseStore
from bot.store.outbox import OutboxStore
from bot.store.probes import ProbeStore
from bot.store.requests import RequestStore


class Store:
    """Bot state in SQLite or PostgreSQL, by aggregate. Thread-safe; share one instance per process."""

    def __init__(self, url: str | URL, clock: Clock = SYSTEM_CLOCK) -> None:
        self.db = Database(url, clock)
        self.clock = clock
        self.engine = self.db.engine
        self.requests = RequestStore(self.db)
        self.outbox = OutboxStore(self.db)
        self.probes = ProbeStore(self.db)
        self.alerts = AlertStore(self.db)
        self.leases = LeaseStore(self.db)
        self.bulk = BulkStore(self.db)

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to `revision` (Alembic upgrade); safe to call from every replica at start-up."""
        self.db.migrate(revision)

    def close(self) -> None:
        self.db.close()
