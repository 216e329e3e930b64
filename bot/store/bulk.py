"""The mailboxes of bulk steps: each one's prior value, stored with the step, and its progress, audited."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.store.database import Database, changed
from bot.store.models import AuditRow, BulkMailboxRow, StepRow
from bot.workflow.model import BOT_ACTOR, BulkMailbox, MailboxState

#: How a prior value is stored: Exchange's tri-state, with null (inherits the organisation's) spelled out.
PRIOR_TEXT: dict[bool | None, str] = {True: "disabled", False: "enabled", None: "inherits"}
PRIOR_VALUE = {text: value for value, text in PRIOR_TEXT.items()}
#: Moves worth an audit row per mailbox (the in-flight markers are not).
AUDITED = frozenset({MailboxState.OFF, MailboxState.FAILED, MailboxState.SKIPPED, MailboxState.RESTORED,
                     MailboxState.RETRIED})
#: The value a mailbox holds after a move into these states ("" means its own prior value).
NOW_HOLDS = {MailboxState.OFF: PRIOR_TEXT[True], MailboxState.RESTORED: ""}


def add_mailboxes(session: Session, step_id: int, mailboxes: Iterable[tuple[str, bool | None] | BulkMailbox],
                  now: datetime) -> None:
    """Store a bulk step's mailboxes and prior values, in the transaction that stores the step; a `BulkMailbox`
    (a retry's, from the step where it failed) brings whether a write was already sent to it."""
    rows = [(m.upn, m.prior, m.write_sent) if isinstance(m, BulkMailbox) else (m[0], m[1], False) for m in mailboxes]
    session.add_all(BulkMailboxRow(step_id=step_id, position=n, upn=upn, prior=PRIOR_TEXT[prior],
                                   state=MailboxState.PENDING, updated_at=now, write_sent=sent)
                    for n, (upn, prior, sent) in enumerate(rows))


def move_in(session: Session, step_id: int, upns: Mapping[str, str | None] | Collection[str],
            expected: Collection[MailboxState], new: MailboxState, actor: str, now: datetime) -> list[BulkMailbox]:
    """`BulkStore.move` inside the caller's transaction; `upns` without errors keeps each mailbox's own error.

    Moving to `writing` marks the mailbox as sent a write (the mark is stored before the write is sent).
    Returns the mailboxes moved, as they were before the move.
    """
    states = [MailboxState(s) for s in expected]
    errors: Mapping[str, str | None] | None = upns if isinstance(upns, Mapping) else None
    request_id = session.scalar(select(StepRow.request_id).where(StepRow.id == step_id))
    rows = {row.upn: row for row in session.scalars(
        select(BulkMailboxRow).where(BulkMailboxRow.step_id == step_id, BulkMailboxRow.upn.in_(list(upns)),
                                     BulkMailboxRow.state.in_(states)))}
    moved: list[BulkMailbox] = []
    for upn in upns:
        row = rows.get(upn)
        if row is None:
            continue
        error = errors[upn] if errors is not None else row.error
        sent = {"write_sent": True} if new == MailboxState.WRITING else {}
        result = session.execute(
            update(BulkMailboxRow)
            .where(BulkMailboxRow.id == row.id, BulkMailboxRow.state.in_(states))
            .values(state=new, error=error, updated_at=now, **sent)
            .execution_options(synchronize_session=False))
        if changed(result) != 1:
            continue
        moved.append(_mailbox(row))
        if new in AUDITED:
            after = {"mailbox": new} | ({"value": NOW_HOLDS[new] or row.prior} if new in NOW_HOLDS else {})
            session.add(AuditRow(
                at=now, actor=actor, action=f"bulk.mailbox_{new}", request_id=request_id, step_id=step_id,
                target=upn, before={"mailbox": row.state, "prior": row.prior}, after=after,
                detail={"error": error} if error else None))
    return moved


class BulkStore:
    """Per-mailbox progress of bulk steps. Every move is a conditional UPDATE, so a mailbox is written once."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def mailboxes(self, step_id: int) -> list[BulkMailbox]:
        """In the order the report listed them."""
        return self.for_steps([step_id]).get(step_id, [])

    def for_steps(self, step_ids: Collection[int]) -> dict[int, list[BulkMailbox]]:
        if not step_ids:
            return {}
        query = (select(BulkMailboxRow).where(BulkMailboxRow.step_id.in_(list(step_ids)))
                 .order_by(BulkMailboxRow.step_id, BulkMailboxRow.position))
        found: dict[int, list[BulkMailbox]] = {}
        with self._db.read() as session:
            for row in session.scalars(query):
                found.setdefault(row.step_id, []).append(_mailbox(row))
        return found

    def move(self, step_id: int, upns: Mapping[str, str | None], expected: Collection[MailboxState],
             new: MailboxState, *, actor: str = BOT_ACTOR) -> list[str]:
        """Move each of `upns` (upn -> the error to record, or None) from one of `expected` to `new`.

        One transaction; a mailbox no longer in `expected` is left alone. Moves that settle a mailbox are
        audited with its prior value (and, turned off or restored, the value it holds now). Returns those moved.
        """
        if not upns:
            return []
        with self._db.write() as session:
            return [m.upn for m in move_in(session, step_id, upns, expected, new, actor, self._db.clock.now())]


def _mailbox(row: BulkMailboxRow) -> BulkMailbox:
    return BulkMailbox(row.step_id, row.position, row.upn, PRIOR_VALUE[row.prior], MailboxState(row.state),
                       row.error, row.updated_at, bool(row.write_sent))
