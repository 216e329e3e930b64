"""Named, expiring leases: which replica probes, who posts a card."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, select, update

from bot.store.database import Database, changed
from bot.store.models import LeaseRow


class LeaseStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take `name` if it is free, expired or already ours (then renew it until now + ttl).

        One INSERT ... ON CONFLICT DO UPDATE ... WHERE, so racing acquirers get one holder. Expiry is judged by
        the caller's clock: replicas' clocks must agree to well within `ttl`.
        """
        now = self._db.clock.now()
        table = LeaseRow.__table__
        insert = self._db.insert(LeaseRow).values(
            name=name, holder=holder, acquired_at=now, expires_at=now + ttl
        )
        statement = insert.on_conflict_do_update(
            index_elements=[table.c.name],
            set_={
                "holder": insert.excluded.holder,
                "acquired_at": case(
                    (table.c.holder == insert.excluded.holder, table.c.acquired_at),
                    else_=insert.excluded.acquired_at,
                ),
                "expires_at": insert.excluded.expires_at,
            },
            where=or_(table.c.holder == holder, table.c.expires_at <= now),
        ).returning(table.c.name)
        with self._db.write() as session:
            return session.execute(statement).first() is not None

    def renew(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Push `name`'s expiry to now + ttl if `holder` still has it (never takes a lease, unlike `acquire`)."""
        now = self._db.clock.now()
        with self._db.write() as session:
            result = session.execute(update(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder)
                                     .values(expires_at=now + ttl))
            return changed(result) == 1

    def release(self, name: str, holder: str) -> bool:
        """Give the lease up if `holder` has it."""
        with self._db.write() as session:
            result = session.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder))
            return changed(result) == 1

    def expires_at(self, name: str) -> datetime | None:
        """When `name` runs out (maybe already), or None if nobody holds or held it."""
        with self._db.read() as session:
            return session.scalar(select(LeaseRow.expires_at).where(LeaseRow.name == name))

    def holder(self, name: str) -> str | None:
        """Who holds `name` now, or None if nobody (or the lease ran out)."""
        query = select(LeaseRow.holder).where(LeaseRow.name == name, LeaseRow.expires_at > self._db.clock.now())
        with self._db.read() as session:
            return session.scalar(query)
