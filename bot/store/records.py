"""What the store hands back: frozen, detached snapshots of rows, safe to pass between threads.

Change requests and their steps are the workflow's records (`bot.workflow.model`); the rest live here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    request_id: str | None
    step_id: int | None
    target: str | None
    before: Any
    after: Any
    detail: Any


@dataclass(frozen=True, slots=True)
class ProbeRecord:
    """One stored probe (the live result of a probe is `bot.probe.ProbeResult`)."""

    id: int
    target: str
    mailbox: str
    at: datetime
    ok: bool
    phase: str | None
    cause: str | None
    code: int | None
    enhanced_status: str | None
    reply: str | None
    latency_ms: int | None
    timings: dict[str, Any] | None
    tls_version: str | None
    cert_days_left: int | None
    auth_mode: str | None


@dataclass(frozen=True, slots=True)
class AlertState:
    """Alerting state of one target. `version` 0 means never saved; build the next one with `replace()`."""

    target: str
    status: str = "ok"
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    incident_id: str | None = None
    alert_channel: str | None = None
    alert_ts: str | None = None
    last_cause: str | None = None
    last_reply: str | None = None
    first_failure_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_reminder_at: datetime | None = None
    snoozed_until: datetime | None = None
    snoozed_by: str | None = None
    snoozed_incident: str | None = None
    """The incident the snooze was set on (None: before one opened) and below its cause then (None: any)."""
    snoozed_cause: str | None = None
    history: list[Any] = field(default_factory=list)
    version: int = 0
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    kind: str
    payload: dict[str, Any]
    dedupe_key: str | None
    state: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    result: dict[str, Any] | None


def snapshot(cls: type[R], row: object, **overrides: Any) -> R:
    """Copy the same-named attributes of an ORM row into the record class `cls`, then apply `overrides`."""
    values = {f.name: getattr(row, f.name) for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{**values, **overrides})
