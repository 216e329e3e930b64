"""Change requests, their steps and the audit log: every transition is one conditional UPDATE plus its audit row."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from bot.store.bulk import add_mailboxes, move_in
from bot.store.database import Database, changed, jsonable
from bot.store.models import AuditRow, OutboxRow, OutboxState, RequestRow, StepRow
from bot.store.records import AuditEntry, snapshot
from bot.workflow.model import (
    APPLY_ANYWAY,
    BOT_ACTOR,
    NOTICE_KIND,
    NOTICES,
    BulkMailbox,
    ChangeRequest,
    MailboxState,
    RequestState,
    RequestStep,
    StepState,
    check_request_transition,
    check_step_transition,
)

# Unambiguous when read aloud or retyped: no 0/O, 1/I/L, U.
_ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
_ID_LENGTH = 6
_ID_ATTEMPTS = 5

# Columns a step transition may set besides `state`; `attempts`, `version` and `updated_at` are the store's.
STEP_FIELDS = frozenset({
    "before", "after", "proposed", "decided_by", "decided_at", "applied_at", "error",
    "undo_requested_by", "undo_requested_at", "approvals", "undo_decided_by", "undo_decided_at",
})


E = TypeVar("E", RequestState, StepState)


@dataclass(frozen=True)
class Incoming:
    """A command to store as a request in `diagnosing`; `trigger_id` is Slack's, unique per command."""

    upn: str
    requester: str
    channel: str
    options: dict[str, Any]
    trigger_id: str | None = None
    thread_ts: str | None = None  # the thread its card goes in (an alert's, for a Fix clicked on it)


def _row(command: Incoming, request_id: str, now: datetime, ttl: timedelta) -> dict[str, Any]:
    return {"id": request_id, "upn": command.upn, "tenant_id": "", "requester": command.requester,
            "channel": command.channel, "state": RequestState.DIAGNOSING, "created_at": now,
            "expires_at": now + ttl, "diagnosis": {}, "options": command.options, "trigger_id": command.trigger_id,
            "thread_ts": command.thread_ts}


def new_request_id() -> str:
    """A short id a human can read in Slack and type back, e.g. `CR-7F3K2Q`."""
    return "CR-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


class RequestStore:
    """The change-request aggregate. Transitions outside the workflow's table raise IllegalTransition."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, upn: str, tenant_id: str, requester: str, channel: str, ttl: timedelta,
               steps: list[dict[str, Any]], diagnosis: dict[str, Any], options: dict[str, Any] | None = None) -> str:
        """Store a planned request at once (`receive`, then `plan`); returns its id."""
        request_id = self.receive(upn, requester, channel, ttl, options or {})
        assert request_id is not None  # no trigger id: always stored
        self.plan(request_id, tenant_id, ttl, steps, diagnosis)
        return request_id

    def receive(self, upn: str, requester: str, channel: str, ttl: timedelta, options: dict[str, Any],
                thread_ts: str | None = None, *, trigger_id: str | None = None) -> str | None:
        """Store a command as it arrives: a request in `diagnosing` (no tenant, plan or steps yet); audited.

        `thread_ts`: the thread its card goes in (an alert's, for a Fix clicked on it). Returns the new request
        id; `plan` or `close` it once diagnosed (start-up resumes one left behind).
        `trigger_id` (Slack's, unique per command) makes the insert itself the duplicate check: a redelivered
        command stores nothing and returns None, in the same one write.
        """
        [request_id] = self.receive_many([Incoming(upn, requester, channel, options, trigger_id, thread_ts)], ttl)
        return request_id

    def receive_many(self, commands: Sequence[Incoming], ttl: timedelta) -> list[str | None]:
        """`receive` for several commands in one transaction (a group commit): each one's id or None."""
        now = self._db.clock.now()
        rows = [_row(command, new_request_id(), now, ttl) for command in commands]
        stored: list[str | None] = []
        audits: list[dict[str, Any]] = []
        with self._db.write() as session:
            # One multi-row INSERT; a row it skipped (a redelivered trigger, or an id already taken) is then
            # looked at on its own.
            table = RequestRow.__table__  # Core, not the ORM's bulk path: the statement compiles once
            inserted = set(session.connection().execute(
                self._db.insert(table).on_conflict_do_nothing().returning(table.c.id), rows).scalars()) if rows else set()
            for command, row in zip(commands, rows, strict=True):
                request_id = row["id"] if row["id"] in inserted else self._insert(session, command, now, ttl)
                stored.append(request_id)
                if request_id is not None:
                    audits.append({"at": now, "actor": command.requester, "action": "request.created",
                                   "request_id": request_id, "target": command.upn,
                                   "after": {"state": RequestState.DIAGNOSING},
                                   "detail": {"channel": command.channel, "options": command.options}
                                   | ({"thread_ts": command.thread_ts} if command.thread_ts else {})})
            if audits:
                session.connection().execute(insert(AuditRow.__table__), audits)
        return stored

    @staticmethod
    def _triggered(session: Session, trigger_id: str) -> bool:
        return session.scalar(select(RequestRow.id).where(RequestRow.trigger_id == trigger_id)) is not None

    def _insert(self, session: Session, command: Incoming, now: datetime, ttl: timedelta) -> str | None:
        """One request row: its new id, or None when `command.trigger_id` was stored before (a redelivery)."""
        if command.trigger_id and self._triggered(session, command.trigger_id):
            return None
        for _ in range(_ID_ATTEMPTS):
            request_id = new_request_id()
            inserted = session.execute(self._db.insert(RequestRow).values(**_row(command, request_id, now, ttl))
                                       .on_conflict_do_nothing().returning(RequestRow.id)).first()
            if inserted is not None:
                return request_id
            if command.trigger_id and self._triggered(session, command.trigger_id):
                return None
        raise RuntimeError(f"no free request id after {_ID_ATTEMPTS} attempts")  # 1 in ~7e8 each

    def plan(self, request_id: str, tenant_id: str, ttl: timedelta, steps: list[dict[str, Any]],
             diagnosis: dict[str, Any]) -> bool:
        """Store a diagnosing request's plan and its `pending` steps (dicts of handler_key, title, proposed, and
        for a bulk step `mailboxes`: (upn, prior value) pairs, stored in the same transaction):
        `diagnosing` -> `planned`, audited. Steps expire with the request `ttl` from now. True if this call won."""
        check_request_transition(RequestState.DIAGNOSING, RequestState.PLANNED, "request.planned")
        now = self._db.clock.now()
        planned = [{"handler_key": s["handler_key"], "title": s["title"], "proposed": s.get("proposed")}
                   for s in steps]
        with self._db.write() as session:
            won = session.execute(
                update(RequestRow)
                .where(RequestRow.id == request_id, RequestRow.state == RequestState.DIAGNOSING)
                .values(state=RequestState.PLANNED, tenant_id=tenant_id, expires_at=now + ttl, diagnosis=diagnosis)
                .returning(RequestRow.upn)
            ).first()
            if won is None:
                return False
            rows = [StepRow(request_id=request_id, position=position, state=StepState.PENDING, updated_at=now,
                            **step) for position, step in enumerate(planned)]
            session.add_all(rows)
            session.flush()
            for row, step in zip(rows, steps, strict=True):
                add_mailboxes(session, row.id, step.get("mailboxes") or (), now)
            session.add(AuditRow(
                at=now, actor=BOT_ACTOR, action="request.planned", request_id=request_id, target=won.upn,
                before={"state": RequestState.DIAGNOSING},
                after=jsonable({"state": RequestState.PLANNED, "expires_at": now + ttl, "steps": planned}),
                detail={"tenant_id": tenant_id},
            ))
            return True

    def add_step(self, request_id: str, step: dict[str, Any], actor: str, action: str, ttl: timedelta) -> int | None:
        """Add a `pending` step (a dict as `plan` takes) after the last one of a planned request, its mailboxes
        with it, and give the request `ttl` from now to approve it (never less than it had); audited as `action`.
        Returns its id, or None when the request is not planned."""
        return self._add_step(request_id, lambda session, now: step, actor, action, ttl)

    def add_retry_step(self, request_id: str, failed_in: int, upns: Collection[str],
                       build: Callable[[list[BulkMailbox]], dict[str, Any]], actor: str, action: str,
                       ttl: timedelta) -> int | None:
        """`add_step` for the mailboxes of `upns` still failed in bulk step `failed_in`, in one transaction: they
        are claimed first (failed -> retried, each a conditional UPDATE), then `build(claimed)` gives the step.

        Returns None, adding nothing, when the request is not planned or none was still failed (another click
        claimed them): two clicks at once make one retry step.
        """
        def claim(session: Session, now: datetime) -> dict[str, Any] | None:
            claimed = move_in(session, failed_in, upns, {MailboxState.FAILED}, MailboxState.RETRIED, actor, now)
            return build(claimed) if claimed else None
        return self._add_step(request_id, claim, actor, action, ttl)

    def _add_step(self, request_id: str, make: Callable[[Session, datetime], dict[str, Any] | None], actor: str,
                  action: str, ttl: timedelta) -> int | None:
        now = self._db.clock.now()
        with self._db.write() as session:
            request = session.execute(select(RequestRow).where(RequestRow.id == request_id).with_for_update()
                                      ).scalar_one_or_none()
            if request is None or request.state != RequestState.PLANNED:
                return None
            step = make(session, now)
            if step is None:
                return None
            planned = {"handler_key": step["handler_key"], "title": step["title"], "proposed": step.get("proposed")}
            last = session.scalar(select(StepRow.position).where(StepRow.request_id == request_id)
                                  .order_by(StepRow.position.desc()).limit(1))
            row = StepRow(request_id=request_id, position=(last if last is not None else -1) + 1,
                          state=StepState.PENDING, updated_at=now, **planned)
            session.add(row)
            request.expires_at = max(request.expires_at, now + ttl)
            session.flush()
            add_mailboxes(session, row.id, step.get("mailboxes") or (), now)
            session.add(AuditRow(at=now, actor=actor, action=action, request_id=request_id, step_id=row.id,
                                 target=request.upn, after=jsonable({"state": StepState.PENDING, **planned}),
                                 detail={"handler_key": planned["handler_key"]}))
            return row.id

    def add_approval(self, step_id: int, actor: str, version: int, action: str, needed: int | None = None) -> bool:
        """Record one approval of a change that needs several (`needed`), if the step is still at `version` and
        waiting for a decision; audited as `action`, and the requester's "1 of 2" notice queued with it (like a
        transition's). True if this call won (a concurrent approval makes the caller re-read)."""
        now = self._db.clock.now()
        with self._db.write() as session:
            found = session.execute(
                select(StepRow, RequestRow.upn).join(RequestRow, RequestRow.id == StepRow.request_id)
                .where(StepRow.id == step_id).with_for_update(of=StepRow)).one_or_none()
            if found is None or found.StepRow.version != version:
                return False
            step: StepRow = found.StepRow
            approvals = [*(step.approvals or []), actor]
            won = session.execute(
                update(StepRow)
                .where(StepRow.id == step_id, StepRow.version == version,
                       StepRow.state.in_([StepState.PENDING, StepState.REVERT_PENDING]))
                .values(approvals=approvals, version=StepRow.version + 1, updated_at=now)
                .execution_options(synchronize_session=False))
            if changed(won) != 1:
                return False
            session.add(AuditRow(at=now, actor=actor, action=action, request_id=step.request_id, step_id=step_id,
                                 target=found.upn, before={"approvals": step.approvals or []},
                                 after={"approvals": approvals}, detail={"handler_key": step.handler_key}))
            _queue_notice(session, step, StepState(step.state), action, actor, now,
                          approvals=len(approvals), needed=needed)
            return True

    def get(self, request_id: str) -> ChangeRequest | None:
        with self._db.read() as session:
            row = session.get(RequestRow, request_id)
            return _request(row) if row else None

    def list(self, *, state: RequestState | None = None, upn: str | None = None,
             thread: tuple[str, str] | None = None, limit: int = 50) -> list[ChangeRequest]:
        """Newest first; only `upn`'s, or those whose card is in the (channel, thread_ts) `thread`, when given."""
        query = select(RequestRow).order_by(RequestRow.created_at.desc(), RequestRow.id).limit(limit)
        if state is not None:
            query = query.where(RequestRow.state == _known(RequestState, state))
        if upn is not None:
            query = query.where(RequestRow.upn == upn)
        if thread is not None:
            query = query.where(RequestRow.channel == thread[0], RequestRow.thread_ts == thread[1])
        with self._db.read() as session:
            return [_request(row) for row in session.scalars(query)]

    def set_message(self, request_id: str, channel: str, ts: str) -> bool:
        """Remember where the plan card was posted, for `chat.update`."""
        with self._db.write() as session:
            result = session.execute(
                update(RequestRow).where(RequestRow.id == request_id).values(channel=channel, message_ts=ts)
            )
            return changed(result) == 1

    def apply_anyway(self, request_id: str, actor: str, blockers: list[str]) -> bool:
        """Record that `actor` chose to go on despite `blockers`, once (a conditional UPDATE); audited."""
        now = self._db.clock.now()
        with self._db.write() as session:
            won = session.execute(
                update(RequestRow)
                .where(RequestRow.id == request_id, RequestRow.state == RequestState.PLANNED,
                       RequestRow.applied_anyway_by.is_(None))
                .values(applied_anyway_by=actor, applied_anyway_at=now)
                .returning(RequestRow.upn)
            ).first()
            if won is None:
                return False
            session.add(AuditRow(at=now, actor=actor, action=APPLY_ANYWAY, request_id=request_id, target=won.upn,
                                 after={"applied_anyway_by": actor, "applied_anyway_at": now.isoformat()},
                                 detail={"blockers": blockers}))
            return True

    def transition(self, request_id: str, expected: RequestState, new: RequestState, actor: str,
                   action: str, *, diagnosis: dict[str, Any] | None = None) -> bool:
        """Move a request from `expected` to `new` if it is still there, storing `diagnosis` if given (a failed
        diagnosis); audited. True if this call won."""
        expected, new = _known(RequestState, expected), _known(RequestState, new)
        check_request_transition(expected, new, action)
        now = self._db.clock.now()
        values: dict[str, Any] = {"state": new} | ({"diagnosis": diagnosis} if diagnosis is not None else {})
        if new == RequestState.CLOSED:
            values["closed_at"] = now
        with self._db.write() as session:
            upn = session.scalar(select(RequestRow.upn).where(RequestRow.id == request_id).with_for_update())
            won = session.execute(
                update(RequestRow)
                .where(RequestRow.id == request_id, RequestRow.state == expected)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if upn is None or changed(won) != 1:
                return False
            session.add(AuditRow(at=now, actor=actor, action=action, request_id=request_id, target=upn,
                                 before={"state": expected}, after=jsonable(values)))
            return True

    def get_steps(self, request_id: str) -> list[RequestStep]:
        """In plan order."""
        query = select(StepRow).where(StepRow.request_id == request_id).order_by(StepRow.position)
        with self._db.read() as session:
            return [_step(row) for row in session.scalars(query)]

    def get_step(self, step_id: int) -> RequestStep | None:
        with self._db.read() as session:
            row = session.get(StepRow, step_id)
            return _step(row) if row else None

    def in_state(self, state: RequestState) -> list[str]:
        """The ids of every request in `state`, oldest first (start-up resumes those left `diagnosing`)."""
        query = (select(RequestRow.id).where(RequestRow.state == _known(RequestState, state))
                 .order_by(RequestRow.created_at, RequestRow.id))
        with self._db.read() as session:
            return list(session.scalars(query))

    def steps_in_state(self, state: StepState) -> list[RequestStep]:
        """Every step in `state`, oldest change first (start-up settles steps left in `applying`)."""
        query = (
            select(StepRow)
            .where(StepRow.state == _known(StepState, state))
            .order_by(StepRow.updated_at, StepRow.id)
        )
        with self._db.read() as session:
            return [_step(row) for row in session.scalars(query)]

    def transition_step(self, step_id: int, expected: StepState | tuple[StepState, ...], new: StepState,
                        actor: str, action: str, **fields: Any) -> bool:
        """The exactly-once primitive: move a step from one of `expected` to `new`, setting `fields`.

        Refuses (IllegalTransition, before touching the database) a move the workflow's table does not list.
        One conditional UPDATE (`WHERE id = :id AND state IN :expected`) and, only if it changed the row, an
        audit row with the before and after values, in one transaction. Returns True for the one caller that
        won, across threads and processes. Besides the given `fields` (see STEP_FIELDS) the store bumps
        `version` and `updated_at`, counts `attempts` on entering `applying`, stamps `decided_at` when
        `decided_by` is given, `undo_requested_at` with `undo_requested_by`, `undo_decided_at` with
        `undo_decided_by` (cleared with it) and `applied_at` on entering
        `applied`, unless they are passed explicitly.
        """
        wanted = (expected,) if isinstance(expected, str) else tuple(expected)
        allowed = tuple(_known(StepState, state) for state in wanted)
        new = _known(StepState, new)
        if unknown := set(fields) - STEP_FIELDS:
            raise TypeError(f"transition_step cannot set {sorted(unknown)}; allowed: {sorted(STEP_FIELDS)}")
        for state in allowed:
            check_step_transition(state, new, action)
        with self._db.write() as session:
            return self._transition(session, step_id, allowed, new, actor, action, fields)

    def _transition(self, session: Session, step_id: int, allowed: tuple[StepState, ...], new: StepState,
                    actor: str, action: str, fields: dict[str, Any]) -> bool:
        now = self._db.clock.now()
        # The row lock (PostgreSQL; SQLite holds the database write lock) makes the audit's `before` exact.
        found = session.execute(
            select(StepRow, RequestRow.upn)
            .join(RequestRow, RequestRow.id == StepRow.request_id)
            .where(StepRow.id == step_id)
            .with_for_update(of=StepRow)
        ).one_or_none()
        if found is None or found.StepRow.state not in allowed:
            return False
        step: StepRow = found.StepRow
        values = _stamped(fields, new, now)
        before = {"state": step.state, **{name: getattr(step, name) for name in values}}
        after = {"state": new, **values}
        applying = new == StepState.APPLYING
        if applying:
            before["attempts"], after["attempts"] = step.attempts, step.attempts + 1
        won = session.execute(
            update(StepRow)
            .where(StepRow.id == step_id, StepRow.state.in_(allowed))
            .values(state=new, version=StepRow.version + 1, updated_at=now,
                    attempts=StepRow.attempts + (1 if applying else 0), **values)
            .execution_options(synchronize_session=False)
        )
        if changed(won) != 1:
            return False
        session.add(AuditRow(at=now, actor=actor, action=action, request_id=step.request_id, step_id=step_id,
                             target=found.upn, before=jsonable(before), after=jsonable(after),
                             detail={"handler_key": step.handler_key}))
        # The step's error after the change (kept when the transition does not set it: a bulk step's "47 of 50
        # turned off; ..." stays with it when recovery verifies it), so the notice tells what the card shows.
        _queue_notice(session, step, new, action, actor, now, error=values.get("error", step.error))
        return True

    def expire_due(self) -> list[int]:
        """Expire the `pending` steps of requests past `expires_at` (actor BOT_ACTOR); returns their ids."""
        now = self._db.clock.now()
        query = (
            select(StepRow.id)
            .join(RequestRow, RequestRow.id == StepRow.request_id)
            .where(StepRow.state == StepState.PENDING, RequestRow.expires_at <= now)
            .order_by(StepRow.id)
        )
        check_step_transition(StepState.PENDING, StepState.EXPIRED, "step.expired")
        with self._db.write() as session:
            due = session.scalars(query).all()
            return [step_id for step_id in due if self._transition(
                session, step_id, (StepState.PENDING,), StepState.EXPIRED, BOT_ACTOR, "step.expired", {})]

    def audit(self, actor: str, action: str, *, request_id: str | None = None, step_id: int | None = None,
              target: str | None = None, before: Any = None, after: Any = None, detail: Any = None) -> int:
        """Append one audit row; returns its id."""
        row = AuditRow(at=self._db.clock.now(), actor=actor, action=action, request_id=request_id,
                       step_id=step_id, target=target, before=jsonable(before), after=jsonable(after),
                       detail=jsonable(detail))
        with self._db.write() as session:
            session.add(row)
            session.flush()
            return row.id

    def audit_rows(self, since: datetime | None = None, request_id: str | None = None) -> list[AuditEntry]:
        """Audit rows in the order they were written, optionally from `since` on and for one request."""
        query = select(AuditRow).order_by(AuditRow.id)
        if since is not None:
            query = query.where(AuditRow.at >= since)
        if request_id is not None:
            query = query.where(AuditRow.request_id == request_id)
        with self._db.read() as session:
            return [snapshot(AuditEntry, row) for row in session.scalars(query)]


def _queue_notice(session: Session, step: StepRow, new: StepState, action: str, actor: str, now: datetime,
                  **extra: Any) -> None:
    """Queue the requester's notice of the step change (`new`, `action`) when it has one (`NOTICES`), in the
    caller's transaction: no change without its one message. Its key is the step's version after the change,
    unique to that change, so the outbox (and a post retried after a crash) sends it exactly once."""
    notice = NOTICES.get((new, action))
    if notice is None:
        return
    key = f"notice:{step.id}:{step.version + 1}"
    session.add(OutboxRow(kind=NOTICE_KIND, dedupe_key=key, state=OutboxState.PENDING, attempts=0,
                          next_attempt_at=now, created_at=now, payload=jsonable({
                              "key": key, "notice": notice, "request_id": step.request_id, "step_id": step.id,
                              "title": step.title, "actor": actor, "at": now,
                              "undo_requested_by": step.undo_requested_by, "undo_requested_at": step.undo_requested_at,
                              "undo_decided_by": step.undo_decided_by, "undo_decided_at": step.undo_decided_at,
                              "error": None, **extra})))


def _stamped(fields: dict[str, Any], new: StepState, now: datetime) -> dict[str, Any]:
    """`fields` plus the times the store stamps: decided_at, undo_requested_at, undo_decided_at, applied_at."""
    values = dict(fields)
    if "decided_by" in values:
        values.setdefault("decided_at", now)
    if "undo_requested_by" in values:
        values.setdefault("undo_requested_at", now)
    if "undo_decided_by" in values:
        values.setdefault("undo_decided_at", None if values["undo_decided_by"] is None else now)
    if new == StepState.APPLIED:
        values.setdefault("applied_at", now)
    return values


def _known(states: type[E], state: str) -> E:
    try:
        return states(state)
    except ValueError:
        expected = ", ".join(states)
        raise ValueError(f"unknown state {state!r}; expected one of {expected}") from None


def _request(row: RequestRow) -> ChangeRequest:
    return snapshot(ChangeRequest, row, state=RequestState(row.state))


def _step(row: StepRow) -> RequestStep:
    return snapshot(RequestStep, row, state=StepState(row.state),
                    approvals=tuple(row.approvals) if row.approvals else None)
