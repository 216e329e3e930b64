"""The tables, as SQLAlchemy models; the migrations in `migrations/` must build exactly this schema."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, MetaData, String, Text, UniqueConstraint, event, false
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, ORMExecuteState, Session, mapped_column

from bot.errors import AppendOnlyViolation
from bot.store.columns import BigId, JSONType, UTCDateTime


class OutboxState(enum.StrEnum):
    """Where an outbox item is: waiting, claimed by a deliverer, delivered, or given up on."""

    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    DEAD = "dead"



class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: UTCDateTime(), str: String(), Any: JSONType}


class RequestRow(Base):
    """A change request: one `/smtp-enable` for one mailbox, and the plan the bot proposed for it."""

    __tablename__ = "change_requests"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    upn: Mapped[str]
    tenant_id: Mapped[str]
    requester: Mapped[str]
    channel: Mapped[str]
    message_ts: Mapped[str | None]
    thread_ts: Mapped[str | None]
    state: Mapped[str] = mapped_column(index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    diagnosis: Mapped[Any]
    options: Mapped[Any]
    applied_anyway_by: Mapped[str | None]
    applied_anyway_at: Mapped[datetime | None]
    #: Slack's trigger_id of the command that opened it: unique, so a redelivery stores nothing.
    trigger_id: Mapped[str | None] = mapped_column(index=True, unique=True)


class StepRow(Base):
    """One remediation step of a request; `state` only ever moves through a conditional UPDATE."""

    __tablename__ = "steps"
    __table_args__ = (UniqueConstraint("request_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("change_requests.id"), index=True)
    position: Mapped[int]
    handler_key: Mapped[str]
    title: Mapped[str]
    state: Mapped[str] = mapped_column(index=True)
    before: Mapped[Any | None]
    after: Mapped[Any | None]
    proposed: Mapped[Any | None]
    decided_by: Mapped[str | None]
    decided_at: Mapped[datetime | None]
    applied_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(server_default="0")
    version: Mapped[int] = mapped_column(server_default="0")
    updated_at: Mapped[datetime]
    undo_requested_by: Mapped[str | None]
    undo_requested_at: Mapped[datetime | None]
    approvals: Mapped[Any | None]  # approvers so far, for a change that needs several (a JSON list)
    undo_decided_by: Mapped[str | None]  # who approved (the last approver) or denied the last undo asked for
    undo_decided_at: Mapped[datetime | None]


class BulkMailboxRow(Base):
    """One mailbox of a bulk step: its prior value ('disabled', 'enabled' or 'inherits') and its progress.

    `write_sent`: a write turning it off may have reached Exchange (set with the in-flight mark, before the write
    is sent, and carried into a retry step); a mailbox found off later counts as the bot's change only then.
    """

    __tablename__ = "bulk_mailboxes"
    __table_args__ = (UniqueConstraint("step_id", "upn"), Index(None, "step_id", "state"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id"))
    position: Mapped[int]
    upn: Mapped[str]
    prior: Mapped[str]
    state: Mapped[str]
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]
    write_sent: Mapped[bool] = mapped_column(default=False, server_default=false())


class AuditRow(Base):
    """Append-only: database triggers reject UPDATE and DELETE, and the ORM refuses to flush either."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str]
    action: Mapped[str]
    request_id: Mapped[str | None] = mapped_column(index=True)
    step_id: Mapped[int | None]
    target: Mapped[str | None]
    before: Mapped[Any | None]
    after: Mapped[Any | None]
    detail: Mapped[Any | None]


class ProbeRow(Base):
    """One SMTP AUTH probe of one configured target."""

    __tablename__ = "probe_results"
    __table_args__ = (Index(None, "target", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    target: Mapped[str]
    mailbox: Mapped[str]
    at: Mapped[datetime]
    ok: Mapped[bool]
    phase: Mapped[str | None]
    cause: Mapped[str | None]
    code: Mapped[int | None]
    enhanced_status: Mapped[str | None]
    reply: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[int | None]
    timings: Mapped[Any | None]
    tls_version: Mapped[str | None]
    cert_days_left: Mapped[int | None]
    auth_mode: Mapped[str | None]


class AlertRow(Base):
    """Alerting state of one probe target; written with an optimistic `version` check."""

    __tablename__ = "alert_state"

    target: Mapped[str] = mapped_column(primary_key=True)
    status: Mapped[str]
    consecutive_failures: Mapped[int] = mapped_column(server_default="0")
    consecutive_successes: Mapped[int] = mapped_column(server_default="0")
    incident_id: Mapped[str | None]
    alert_channel: Mapped[str | None]
    alert_ts: Mapped[str | None]
    last_cause: Mapped[str | None]
    last_reply: Mapped[str | None] = mapped_column(Text)
    first_failure_at: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]
    last_reminder_at: Mapped[datetime | None]
    snoozed_until: Mapped[datetime | None]
    snoozed_by: Mapped[str | None]
    snoozed_incident: Mapped[str | None]
    snoozed_cause: Mapped[str | None]
    history: Mapped[Any]
    version: Mapped[int]
    updated_at: Mapped[datetime]


class OutboxRow(Base):
    """A Slack call that must not be lost; `next_attempt_at` doubles as the visibility timeout."""

    __tablename__ = "outbox"
    __table_args__ = (Index(None, "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str]
    payload: Mapped[Any]
    dedupe_key: Mapped[str | None] = mapped_column(unique=True)
    state: Mapped[str]
    attempts: Mapped[int] = mapped_column(server_default="0")
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[Any | None]


class LeaseRow(Base):
    """A named, expiring lease: the holder of `scheduler` is the one replica that probes."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(primary_key=True)
    holder: Mapped[str]
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


@event.listens_for(AuditRow, "before_update")
@event.listens_for(AuditRow, "before_delete")
def _refuse_audit_change(mapper: Mapper[AuditRow], connection: object, target: AuditRow) -> None:
    raise AppendOnlyViolation("audit_log is append-only")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_audit_change(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and AuditRow.__mapper__ in state.all_mappers:
        raise AppendOnlyViolation("audit_log is append-only")
