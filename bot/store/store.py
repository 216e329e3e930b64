"""The store: every read and write of bot state, each public method one short transaction."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, CursorResult, Result
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import SYSTEM_CLOCK, Clock
from bot.store import schema
from bot.store.engine import make_engine
from bot.store.models import (
    OUTBOX_STATES,
    REQUEST_STATES,
    STEP_STATES,
    AlertRow,
    AuditRow,
    LeaseRow,
    OutboxRow,
    ProbeRow,
    RequestRow,
    StepRow,
)
from bot.store.records import (
    AlertState,
    AuditEntry,
    ChangeRequest,
    OutboxItem,
    ProbeResult,
    Step,
    snapshot,
)

# Unambiguous when read aloud or retyped: no 0/O, 1/I/L, U.
_ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
_ID_LENGTH = 6
_ID_ATTEMPTS = 5

# Columns a step transition may set besides `state`; `attempts`, `version` and `updated_at` are the store's.
STEP_FIELDS = frozenset({"before", "after", "proposed", "decided_by", "decided_at", "applied_at", "error"})
_ALERT_FIELDS = tuple(f.name for f in fields(AlertState) if f.name not in ("target", "version", "updated_at"))


def new_request_id() -> str:
    """A short id a human can read in Slack and type back, e.g. `CR-7F3K2Q`."""
    return "CR-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


class Store:
    """Bot state in SQLite or PostgreSQL. Thread-safe; share one instance per process."""

    def __init__(self, url: str | URL, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self.engine: Engine = make_engine(url)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(
            self.engine.execution_options(sqlite_immediate=True), expire_on_commit=False
        )

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to `revision` (Alembic upgrade); safe to call from every replica at start-up."""
        schema.upgrade(self.engine, revision)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._writer.begin() as session:
            yield session

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._reader.begin() as session:
            yield session

    def _insert(self, model: type[Any]) -> Any:
        """The dialect's INSERT, which has ON CONFLICT on both SQLite and PostgreSQL."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(model)

    # Change requests and steps

    def create_request(
        self,
        upn: str,
        tenant_id: str,
        requester: str,
        channel: str,
        ttl: timedelta,
        steps: list[dict[str, Any]],
        diagnosis: dict[str, Any],
        options: dict[str, Any] | None = None,
    ) -> str:
        """Store a planned request and its `pending` steps (dicts of handler_key, title, proposed); audited.

        Returns the new request id. Steps expire with the request after `ttl`.
        """
        for attempt in range(1, _ID_ATTEMPTS + 1):
            request_id = new_request_id()
            try:
                self._create_request(
                    request_id, upn, tenant_id, requester, channel, ttl, steps, diagnosis, options
                )
                return request_id
            except IntegrityError:
                if attempt == _ID_ATTEMPTS or self.get_request(request_id) is None:
                    raise  # not an id collision (those are 1 in ~7e8)
        raise AssertionError("unreachable")

    def _create_request(
        self,
        request_id: str,
        upn: str,
        tenant_id: str,
        requester: str,
        channel: str,
        ttl: timedelta,
        steps: list[dict[str, Any]],
        diagnosis: dict[str, Any],
        options: dict[str, Any] | None,
    ) -> None:
        now = self.clock.now()
        with self._write() as session:
            session.add(
                RequestRow(
                    id=request_id,
                    upn=upn,
                    tenant_id=tenant_id,
                    requester=requester,
                    channel=channel,
                    state="planned",
                    created_at=now,
                    expires_at=now + ttl,
                    diagnosis=diagnosis,
                    options=options or {},
                )
            )
            session.flush()
            session.add_all(
                StepRow(
                    request_id=request_id,
                    position=position,
                    handler_key=step["handler_key"],
                    title=step["title"],
                    proposed=step.get("proposed"),
                    state="pending",
                    updated_at=now,
                )
                for position, step in enumerate(steps)
            )
            session.add(
                AuditRow(
                    at=now,
                    actor=requester,
                    action="request.created",
                    request_id=request_id,
                    target=upn,
                    after=_jsonable(
                        {
                            "state": "planned",
                            "expires_at": now + ttl,
                            "steps": [
                                {
                                    "handler_key": s["handler_key"],
                                    "title": s["title"],
                                    "proposed": s.get("proposed"),
                                }
                                for s in steps
                            ],
                        }
                    ),
                    detail={"tenant_id": tenant_id, "channel": channel, "options": options or {}},
                )
            )

    def get_request(self, request_id: str) -> ChangeRequest | None:
        with self._read() as session:
            row = session.get(RequestRow, request_id)
            return snapshot(ChangeRequest, row) if row else None

    def list_requests(
        self, *, state: str | None = None, upn: str | None = None, limit: int = 50
    ) -> list[ChangeRequest]:
        """Newest first."""
        query = select(RequestRow).order_by(RequestRow.created_at.desc(), RequestRow.id).limit(limit)
        if state is not None:
            query = query.where(RequestRow.state == _known(state, REQUEST_STATES))
        if upn is not None:
            query = query.where(RequestRow.upn == upn)
        with self._read() as session:
            return [snapshot(ChangeRequest, row) for row in session.scalars(query)]

    def set_message(self, request_id: str, channel: str, ts: str) -> bool:
        """Remember where the plan card was posted, for `chat.update`."""
        with self._write() as session:
            result = session.execute(
                update(RequestRow).where(RequestRow.id == request_id).values(channel=channel, message_ts=ts)
            )
            return _changed(result) == 1

    def transition_request(
        self, request_id: str, expected: str | tuple[str, ...], new: str, actor: str, action: str
    ) -> bool:
        """Move a request from one of `expected` to `new` if it is still there; audited. True if this call won."""
        allowed = _states(expected, REQUEST_STATES)
        _known(new, REQUEST_STATES)
        now = self.clock.now()
        with self._write() as session:
            row = session.execute(
                select(RequestRow.state, RequestRow.upn).where(RequestRow.id == request_id).with_for_update()
            ).one_or_none()
            if row is None or row.state not in allowed:
                return False
            values: dict[str, Any] = {"state": new}
            if new == "closed":
                values["closed_at"] = now
            won = session.execute(
                update(RequestRow)
                .where(RequestRow.id == request_id, RequestRow.state.in_(allowed))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if _changed(won) != 1:
                return False
            session.add(
                AuditRow(
                    at=now,
                    actor=actor,
                    action=action,
                    request_id=request_id,
                    target=row.upn,
                    before={"state": row.state},
                    after=_jsonable(values),
                )
            )
            return True

    def get_steps(self, request_id: str) -> list[Step]:
        """In plan order."""
        query = select(StepRow).where(StepRow.request_id == request_id).order_by(StepRow.position)
        with self._read() as session:
            return [snapshot(Step, row) for row in session.scalars(query)]

    def get_step(self, step_id: int) -> Step | None:
        with self._read() as session:
            row = session.get(StepRow, step_id)
            return snapshot(Step, row) if row else None

    def steps_in_state(self, state: str) -> list[Step]:
        """Every step in `state`, oldest change first (start-up settles steps left in `applying`)."""
        query = (
            select(StepRow)
            .where(StepRow.state == _known(state, STEP_STATES))
            .order_by(StepRow.updated_at, StepRow.id)
        )
        with self._read() as session:
            return [snapshot(Step, row) for row in session.scalars(query)]

    def transition_step(
        self,
        step_id: int,
        expected: str | tuple[str, ...],
        new: str,
        actor: str,
        action: str,
        **fields: Any,
    ) -> bool:
        """The exactly-once primitive: move a step from one of `expected` to `new`, setting `fields`.

        One conditional UPDATE (`WHERE id = :id AND state IN :expected`) and, only if it changed the row, an
        audit row with the before and after values, in one transaction. Returns True for the one caller that
        won, across threads and processes. Besides the given `fields` (see STEP_FIELDS) the store bumps
        `version` and `updated_at`, counts `attempts` on entering `applying`, stamps `decided_at` when
        `decided_by` is given and `applied_at` on entering `applied`, unless they are passed explicitly.
        """
        allowed = _states(expected, STEP_STATES)
        _known(new, STEP_STATES)
        if unknown := set(fields) - STEP_FIELDS:
            raise TypeError(f"transition_step cannot set {sorted(unknown)}; allowed: {sorted(STEP_FIELDS)}")
        with self._write() as session:
            return self._transition(session, step_id, allowed, new, actor, action, fields)

    def _transition(
        self,
        session: Session,
        step_id: int,
        allowed: tuple[str, ...],
        new: str,
        actor: str,
        action: str,
        fields: dict[str, Any],
    ) -> bool:
        now = self.clock.now()
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
        values = dict(fields)
        if "decided_by" in values:
            values.setdefault("decided_at", now)
        if new == "applied":
            values.setdefault("applied_at", now)
        before = {"state": step.state, **{name: getattr(step, name) for name in values}}
        after = {"state": new, **values}
        if new == "applying":
            before["attempts"], after["attempts"] = step.attempts, step.attempts + 1
        won = session.execute(
            update(StepRow)
            .where(StepRow.id == step_id, StepRow.state.in_(allowed))
            .values(
                state=new,
                version=StepRow.version + 1,
                updated_at=now,
                attempts=StepRow.attempts + (1 if new == "applying" else 0),
                **values,
            )
            .execution_options(synchronize_session=False)
        )
        if _changed(won) != 1:
            return False
        session.add(
            AuditRow(
                at=now,
                actor=actor,
                action=action,
                request_id=step.request_id,
                step_id=step_id,
                target=found.upn,
                before=_jsonable(before),
                after=_jsonable(after),
                detail={"handler_key": step.handler_key},
            )
        )
        return True

    def expire_due(self) -> list[int]:
        """Expire the `pending` steps of requests past `expires_at` (actor `system`); returns their ids."""
        now = self.clock.now()
        query = (
            select(StepRow.id)
            .join(RequestRow, RequestRow.id == StepRow.request_id)
            .where(StepRow.state == "pending", RequestRow.expires_at <= now)
            .order_by(StepRow.id)
        )
        with self._write() as session:
            due = session.scalars(query).all()
            return [
                step_id
                for step_id in due
                if self._transition(session, step_id, ("pending",), "expired", "system", "step.expired", {})
            ]

    # Audit log

    def audit(
        self,
        actor: str,
        action: str,
        *,
        request_id: str | None = None,
        step_id: int | None = None,
        target: str | None = None,
        before: Any = None,
        after: Any = None,
        detail: Any = None,
    ) -> int:
        """Append one audit row; returns its id."""
        row = AuditRow(
            at=self.clock.now(),
            actor=actor,
            action=action,
            request_id=request_id,
            step_id=step_id,
            target=target,
            before=_jsonable(before),
            after=_jsonable(after),
            detail=_jsonable(detail),
        )
        with self._write() as session:
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
        with self._read() as session:
            return [snapshot(AuditEntry, row) for row in session.scalars(query)]

    # Leases

    def acquire_lease(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take `name` if it is free, expired or already ours (then renew it until now + ttl).

        One INSERT ... ON CONFLICT DO UPDATE ... WHERE, so racing acquirers get one holder. Expiry is judged by
        the caller's clock: replicas' clocks must agree to well within `ttl`.
        """
        now = self.clock.now()
        table = LeaseRow.__table__
        insert = self._insert(LeaseRow).values(
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
        with self._write() as session:
            return session.execute(statement).first() is not None

    def release_lease(self, name: str, holder: str) -> bool:
        """Give the lease up if `holder` has it."""
        with self._write() as session:
            result = session.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder))
            return _changed(result) == 1

    def lease_holder(self, name: str) -> str | None:
        """Who holds `name` now, or None if nobody (or the lease ran out)."""
        query = select(LeaseRow.holder).where(LeaseRow.name == name, LeaseRow.expires_at > self.clock.now())
        with self._read() as session:
            return session.scalar(query)

    # Outbox

    def enqueue(self, kind: str, payload: dict[str, Any], dedupe_key: str | None = None) -> int:
        """Queue a Slack call for delivery; with a `dedupe_key` already queued, returns that item's id."""
        now = self.clock.now()
        insert = self._insert(OutboxRow).values(
            kind=kind,
            payload=payload,
            dedupe_key=dedupe_key,
            state="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        with self._write() as session:
            item_id = session.execute(
                insert.on_conflict_do_nothing(index_elements=[OutboxRow.dedupe_key]).returning(OutboxRow.id)
            ).scalar()
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
        now = self.clock.now()
        is_due = (OutboxRow.state.in_(("pending", "delivering")), OutboxRow.next_attempt_at <= now)
        due = (
            select(OutboxRow.id)
            .where(*is_due)
            .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self._write() as session:
            ids = session.scalars(due).all()
            if not ids:
                return []
            claimed = session.scalars(
                update(OutboxRow)
                .where(
                    OutboxRow.id.in_(ids), *is_due
                )  # still due: the UPDATE decides, the lock only spreads work
                .values(state="delivering", attempts=OutboxRow.attempts + 1, next_attempt_at=now + lease)
                .returning(OutboxRow)
                .execution_options(synchronize_session=False)
            )
            return sorted((snapshot(OutboxItem, row) for row in claimed), key=lambda item: item.id)

    def mark_delivered(self, item_id: int, result: dict[str, Any] | None = None) -> bool:
        """Record a delivery and what Slack answered (e.g. the message `ts`)."""
        return self._settle(
            item_id, ("delivering",), state="delivered", delivered_at=self.clock.now(), result=result
        )

    def mark_retry(self, item_id: int, error: str, next_attempt_at: datetime) -> bool:
        """Put a failed delivery back in the queue, due at `next_attempt_at`."""
        return self._settle(
            item_id, ("delivering",), state="pending", last_error=error, next_attempt_at=next_attempt_at
        )

    def mark_dead(self, item_id: int, error: str) -> bool:
        """Give up on an item; it stays in the table for inspection."""
        return self._settle(item_id, ("pending", "delivering"), state="dead", last_error=error)

    def _settle(self, item_id: int, allowed: tuple[str, ...], **values: Any) -> bool:
        _known(values["state"], OUTBOX_STATES)
        with self._write() as session:
            result = session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == item_id, OutboxRow.state.in_(allowed))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return _changed(result) == 1

    def outbox_item(self, item_id: int) -> OutboxItem | None:
        with self._read() as session:
            row = session.get(OutboxRow, item_id)
            return snapshot(OutboxItem, row) if row else None

    def outbox_backlog(self) -> int:
        """Items not delivered yet (pending or being delivered), due now or later."""
        with self._read() as session:
            return session.scalar(select(func.count()).select_from(OutboxRow).where(
                OutboxRow.state.in_(("pending", "delivering")))) or 0

    def outbox_by_key(self, dedupe_key: str) -> OutboxItem | None:
        """The item queued under `dedupe_key` (e.g. to find the ts Slack gave an alert that was posted)."""
        with self._read() as session:
            row = session.scalars(select(OutboxRow).where(OutboxRow.dedupe_key == dedupe_key)).one_or_none()
            return snapshot(OutboxItem, row) if row else None

    # Probe results

    def record_probe(
        self,
        target: str,
        mailbox: str,
        ok: bool,
        *,
        at: datetime | None = None,
        phase: str | None = None,
        cause: str | None = None,
        code: int | None = None,
        enhanced_status: str | None = None,
        reply: str | None = None,
        latency_ms: int | None = None,
        timings: dict[str, Any] | None = None,
        tls_version: str | None = None,
        cert_days_left: int | None = None,
        auth_mode: str | None = None,
    ) -> int:
        """Store one probe outcome (`at` defaults to now); returns its id."""
        row = ProbeRow(
            target=target,
            mailbox=mailbox,
            ok=ok,
            at=at or self.clock.now(),
            phase=phase,
            cause=cause,
            code=code,
            enhanced_status=enhanced_status,
            reply=reply,
            latency_ms=latency_ms,
            timings=timings,
            tls_version=tls_version,
            cert_days_left=cert_days_left,
            auth_mode=auth_mode,
        )
        with self._write() as session:
            session.add(row)
            session.flush()
            return row.id

    def probe_history(self, target: str, since: datetime | None = None) -> list[ProbeResult]:
        """A target's probes, oldest first."""
        query = select(ProbeRow).where(ProbeRow.target == target).order_by(ProbeRow.at, ProbeRow.id)
        if since is not None:
            query = query.where(ProbeRow.at >= since)
        with self._read() as session:
            return [snapshot(ProbeResult, row) for row in session.scalars(query)]

    def latest_probes(self) -> dict[str, ProbeResult]:
        """The newest probe of each target (latest `at`, then id), by target; one query."""
        newest = (
            select(
                ProbeRow.id,
                func.row_number()
                .over(partition_by=ProbeRow.target, order_by=(ProbeRow.at.desc(), ProbeRow.id.desc()))
                .label("rank"),
            )
        ).subquery()
        query = select(ProbeRow).join(newest, newest.c.id == ProbeRow.id).where(newest.c.rank == 1)
        with self._read() as session:
            return {row.target: snapshot(ProbeResult, row) for row in session.scalars(query)}

    def probe_counts(self, since: datetime) -> dict[str, tuple[int, int]]:
        """Per target, how many probes from `since` on were ok and how many there were: `(ok, total)`."""
        query = (
            select(ProbeRow.target, func.count().filter(ProbeRow.ok), func.count())
            .where(ProbeRow.at >= since)
            .group_by(ProbeRow.target)
        )
        with self._read() as session:
            return {target: (ok, total) for target, ok, total in session.execute(query)}

    def probe_samples(self, since: datetime) -> list[tuple[str, datetime, bool, int | None]]:
        """`(target, at, ok, latency_ms)` of each probe from `since` on, oldest first; light rows for charts."""
        query = (
            select(ProbeRow.target, ProbeRow.at, ProbeRow.ok, ProbeRow.latency_ms)
            .where(ProbeRow.at >= since)
            .order_by(ProbeRow.at, ProbeRow.id)
        )
        with self._read() as session:
            return [(target, at, ok, latency) for target, at, ok, latency in session.execute(query)]

    def purge_probes(self, older_than: timedelta) -> int:
        """Retention: delete probes older than `older_than`; returns how many went."""
        with self._write() as session:
            result = session.execute(delete(ProbeRow).where(ProbeRow.at < self.clock.now() - older_than))
            return _changed(result)

    # Alert state

    def get_alert(self, target: str) -> AlertState | None:
        with self._read() as session:
            row = session.get(AlertRow, target)
            return snapshot(AlertState, row) if row else None

    def list_alerts(self, statuses: Iterable[str] | None = None) -> list[AlertState]:
        """Alert states by target, optionally only those with one of `statuses`."""
        query = select(AlertRow).order_by(AlertRow.target)
        if statuses is not None:
            query = query.where(AlertRow.status.in_(tuple(statuses)))
        with self._read() as session:
            return [snapshot(AlertState, row) for row in session.scalars(query)]

    def save_alert(self, alert: AlertState) -> AlertState | None:
        """Write `alert` if nobody changed the target since it was read (`alert.version`; 0 = new).

        Returns the saved state with its new version, or None when another writer got there first: read again
        and redo the decision.
        """
        now = self.clock.now()
        values = {name: getattr(alert, name) for name in _ALERT_FIELDS}
        values["history"] = list(alert.history)
        with self._write() as session:
            if alert.version == 0:
                statement = (
                    self._insert(AlertRow)
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


def _changed(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched."""
    return cast(CursorResult[Any], result).rowcount


def _known(state: str, states: tuple[str, ...]) -> str:
    if state not in states:
        raise ValueError(f"unknown state {state!r}; expected one of {', '.join(states)}")
    return state


def _states(expected: str | tuple[str, ...], states: tuple[str, ...]) -> tuple[str, ...]:
    wanted = (expected,) if isinstance(expected, str) else tuple(expected)
    return tuple(_known(state, states) for state in wanted)


def _jsonable(value: Any) -> Any:
    """Audit JSON: datetimes as ISO 8601, containers recursively, the rest as is."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value
