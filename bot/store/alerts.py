"""Alert state per probe target, written with an optimistic version check."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields

from sqlalchemy import select, update

from bot.store.database import Database
from bot.store.models import AlertRow
from bot.store.records import AlertState, snapshot

_ALERT_FIELDS = tuple(f.name for f in fields(AlertState) if f.name not in ("target", "version", "updated_at"))


class AlertStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, target: str) -> AlertState | None:
        with self._db.read() as session:
            row = session.get(AlertRow, target)
            return snapshot(AlertState, row) if row else None

    def list(self, statuses: Iterable[str] | None = None) -> list[AlertState]:
        """Alert states by target, optionally only those with one of `statuses`."""
        query = select(AlertRow).order_by(AlertRow.target)
        if statuses is not None:
            query = query.where(AlertRow.status.in_(tuple(statuses)))
        with self._db.read() as session:
            return [snapshot(AlertState, row) for row in session.scalars(query)]

    def save(self, alert: AlertState) -> AlertState | None:
        """Write `alert` if nobody changed the target since it was read (`alert.version`; 0 = new).

        Returns the saved state with its new version, or None when another writer got there first: read again
        and redo the decision.
        """
        now = self._db.clock.now()
        values = {name: getattr(alert, name) for name in _ALERT_FIELDS}
        values["history"] = list(alert.history)
        with self._db.write() as session:
            if alert.version == 0:
                statement = (
                    self._db.insert(AlertRow)
                    .values(target=alert.target, version=1, updated_at=now, **values)
                    .on_conflict_do_nothing(index_elements=[AlertRow.target])
                    .returning(AlertRow.target)
                )
            else:
                statement = (
                    update(AlertRow)
                    .where(AlertRow.target == alert.target, AlertRow.version == alert.version)
                    .values(version=alert.version + 1, updated_at=now, **values)
                    .returning(AlertRow.target)
                )
            if session.execute(statement).first() is None:
                return None
        return AlertState(target=alert.target, version=alert.version + 1, updated_at=now, **values)
