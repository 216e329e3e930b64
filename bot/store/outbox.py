"""The Slack outbox: messages stored first, claimed by one deliverer at a time, retried until settled."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from bot.store.database import Database, changed
from bot.store.models import OutboxRow, OutboxState
from bot.store.records import OutboxItem, snapshot

_UNDELIVERED = (OutboxState.PENDING, OutboxState.DELIVERING)


class OutboxStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def enqueue(self, kind: str, payload: dict[str, Any], dedupe_key: str | None = None) -> int:
        """Queue a Slack call for delivery; with a `dedupe_key` already queued, returns that item's id.

        An item given up on (`dead`) under the same key is revived: queued again, due now, with a fresh give-up time.
        """
        now = self._db.clock.now()
        insert = self._db.insert(OutboxRow).values(
            kind=kind,
            payload=payload,
            dedupe_key=dedupe_key,
            state=OutboxState.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        with self._db.write() as session:
            revive = insert.on_conflict_do_update(
                index_elements=[OutboxRow.dedupe_key],
                set_={"state": OutboxState.PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now},
                where=OutboxRow.state == OutboxState.DEAD,
            )
            item_id = session.execute(revive.returning(OutboxRow.id)).scalar()
            if item_id is None:
                item_id = session.scalar(select(OutboxRow.id).where(OutboxRow.dedupe_key == dedupe_key))
            assert item_id is not None
            return item_id

    def claim_due(self, limit: int, lease: timedelta) -> list[OutboxItem]:
        """Claim up to `limit` due items for delivery, oldest first.

        A claimed item is `delivering` until now + `lease`; if its deliverer neither marks it nor retries it by
        then (it crashed), the item is due again. Concurrent claimers never get the same item
        (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: one writer at a time).
        """
        now = self._db.clock.now()
        is_due = (OutboxRow.state.in_(_UNDELIVERED), OutboxRow.next_attempt_at <= now)
        due = (
            select(OutboxRow.id)
            .where(*is_due)
            .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self._db.write() as session:
            ids = session.scalars(due).all()
            if not ids:
                return []
            claimed = session.scalars(
                update(OutboxRow)
                .where(OutboxRow.id.in_(ids), *is_due)  # still due: the UPDATE decides, the lock only spreads work
                .values(state=OutboxState.DELIVERING, attempts=OutboxRow.attempts + 1, next_attempt_at=now + lease)
                .returning(OutboxRow)
                .execution_options(synchronize_session=False)
            )
            return sorted((snapshot(OutboxItem, row) for row in claimed), key=lambda item: item.id)

    def mark_delivered(self, item_id: int, result: dict[str, Any] | None = None) -> bool:
        """Record a delivery and what Slack answered (e.g. the message `ts`)."""
        return self._settle(
            item_id, (OutboxState.DELIVERING,), state=OutboxState.DELIVERED, delivered_at=self._db.clock.now(), result=result
        )

    def mark_retry(self, item_id: int, error: str, next_attempt_at: datetime, *, counted: bool = True) -> bool:
        """Put a failed delivery back in the queue, due at `next_attempt_at`; uncounted, the attempt is undone."""
        attempts = OutboxRow.attempts if counted else OutboxRow.attempts - 1
        return self._settle(item_id, (OutboxState.DELIVERING,), state=OutboxState.PENDING, last_error=error,
                            next_attempt_at=next_attempt_at, attempts=attempts)

    def mark_dead(self, item_id: int, error: str) -> bool:
        """Give up on an item; it stays in the table for inspection, `next_attempt_at` saying when it died."""
        return self._settle(item_id, _UNDELIVERED, state=OutboxState.DEAD, last_error=error,
                            next_attempt_at=self._db.clock.now())

    def _settle(self, item_id: int, allowed: tuple[OutboxState, ...], **values: Any) -> bool:
        with self._db.write() as session:
            result = session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == item_id, OutboxRow.state.in_(allowed))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return changed(result) == 1

    def get(self, item_id: int) -> OutboxItem | None:
        with self._db.read() as session:
            row = session.get(OutboxRow, item_id)
            return snapshot(OutboxItem, row) if row else None

    def backlog(self) -> int:
        """Items not delivered yet (pending or being delivered), due now or later."""
        query = select(func.count()).select_from(OutboxRow).where(OutboxRow.state.in_(_UNDELIVERED))
        with self._db.read() as session:
            return session.scalar(query) or 0

    def dead_since(self, since: datetime) -> int:
        """Items given up on at or after `since`."""
        query = select(func.count()).select_from(OutboxRow).where(
            OutboxRow.state == OutboxState.DEAD, OutboxRow.next_attempt_at >= since)
        with self._db.read() as session:
            return session.scalar(query) or 0

    def revive(self, dedupe_key: str) -> bool:
        """Queue the dead item under `dedupe_key` again, due now; False if there is none."""
        now = self._db.clock.now()
        with self._db.write() as session:
            result = session.execute(
                update(OutboxRow)
                .where(OutboxRow.dedupe_key == dedupe_key, OutboxRow.state == OutboxState.DEAD)
                .values(state=OutboxState.PENDING, attempts=0, next_attempt_at=now, created_at=now)
                .execution_options(synchronize_session=False)
            )
            return changed(result) == 1

    def oldest(self) -> datetime | None:
        """When the oldest item not delivered yet was queued; None when everything is delivered."""
        query = select(func.min(OutboxRow.created_at)).where(OutboxRow.state.in_(_UNDELIVERED))
        with self._db.read() as session:
            return session.scalar(query)

    def by_key(self, dedupe_key: str) -> OutboxItem | None:
        """The item queued under `dedupe_key` (e.g. to find the ts Slack gave an alert that was posted)."""
        with self._db.read() as session:
            row = session.scalars(select(OutboxRow).where(OutboxRow.dedupe_key == dedupe_key)).one_or_none()
            return snapshot(OutboxItem, row) if row else None
