"""Probe history: each target's state and availability, the Basic-auth outlook, chart series, retention."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.alerts.policy import is_snoozed
from bot.store import AlertState, ProbeRecord, Store

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
# End of December 2026: Basic SMTP AUTH off by default for existing tenants (m365.md §5).
BASIC_AUTH_DEFAULT_OFF = datetime(2027, 1, 1, tzinfo=UTC)
_CONFIGURED_AUTH_MODES = {"login": "basic", "plain": "basic", "xoauth2": "oauth"}
_NAMES_SHOWN = 5


@dataclass(frozen=True, slots=True)
class TargetStatus:
    """One configured target as `/smtp-status`, App Home and /metrics show it."""

    target: str
    mailbox: str
    state: str
    """`flapping`/`snoozed` from the alert state, else `ok`/`failing` from the last result; `unknown`."""
    at: datetime | None
    ok: bool | None
    cause: str | None
    reply: str | None
    availability_24h: float | None
    """Fraction of ok probes over the last 24 h; None without probes."""
    availability_7d: float | None
    latency_ms: int | None
    cert_days_left: int | None
    tls_version: str | None
    auth_mode: str | None
    """`basic` or `oauth`: the last result's, else what the configured `auth` implies."""
    probes_24h: int
    probes_7d: int

    @property
    def cert_expires_at(self) -> datetime | None:
        """When the server certificate runs out, to the day (the probe stores whole days left)."""
        if self.at is None or self.cert_days_left is None:
            return None
        return self.at + timedelta(days=self.cert_days_left)

    def to_dict(self) -> dict[str, Any]:
        """The dict `bot.slack.blocks.status_blocks` and `home_view` take."""
        return asdict(self)


def target_statuses(store: Store, targets: Sequence[Any], now: datetime) -> list[TargetStatus]:
    """The status of each configured target (objects with `name`, `mailbox` and optionally `auth`), in order.

    Four queries whatever the number of targets: the newest probe of each, ok/total counts over 24 h and
    over 7 d (a probe exactly at a window's start counts), and the alert states.
    """
    if not targets:
        return []
    latest = store.probes.latest()
    day, week = store.probes.counts(now - DAY), store.probes.counts(now - WEEK)
    alerts = {alert.target: alert for alert in store.alerts.list()}
    return [
        _status(
            target,
            latest.get(target.name),
            day.get(target.name, (0, 0)),
            week.get(target.name, (0, 0)),
            alerts.get(target.name),
            now,
        )
        for target in targets
    ]


def _status(
    target: Any,
    last: ProbeRecord | None,
    day: tuple[int, int],
    week: tuple[int, int],
    alert: AlertState | None,
    now: datetime,
) -> TargetStatus:
    configured = _CONFIGURED_AUTH_MODES.get(getattr(target, "auth", None) or "")
    return TargetStatus(
        target=target.name,
        mailbox=target.mailbox or (last.mailbox if last else ""),
        state=_state(last, alert, now),
        at=last.at if last else None,
        ok=last.ok if last else None,
        cause=last.cause if last else None,
        reply=last.reply if last else None,
        availability_24h=_ratio(day),
        availability_7d=_ratio(week),
        latency_ms=last.latency_ms if last else None,
        cert_days_left=last.cert_days_left if last else None,
        tls_version=last.tls_version if last else None,
        auth_mode=(last.auth_mode if last else None) or configured,
        probes_24h=day[1],
        probes_7d=week[1],
    )


def _state(last: ProbeRecord | None, alert: AlertState | None, now: datetime) -> str:
    if alert is not None:
        if is_snoozed(alert, now):
            return "snoozed"  # a snooze is a time, not a status (bot.alerts.policy)
        if alert.status == "flapping":
            return "flapping"
    if last is None:
        return "unknown"
    return "ok" if last.ok else "failing"


def _ratio(counts: tuple[int, int]) -> float | None:
    ok, total = counts
    return ok / total if total else None


def basic_auth_summary(statuses: Sequence[TargetStatus], now: datetime) -> dict[str, Any]:
    """How many targets still use Basic auth and what the retirement means for them.

    Returns `{"count", "total", "targets", "disabled_by_default", "text"}`: the targets on Basic, all targets,
    the names on Basic, whether the end-of-December-2026 default has passed at `now`, and one paragraph.
    """
    basic = [s.target for s in statuses if s.auth_mode == "basic"]
    passed = now >= BASIC_AUTH_DEFAULT_OFF
    summary = {"count": len(basic), "total": len(statuses), "targets": basic, "disabled_by_default": passed}
    if not statuses:
        return summary | {"text": "No probe targets are configured."}
    if not basic:
        return summary | {"text": f"None of the {len(statuses)} probe targets uses Basic auth."}
    names = ", ".join(basic[:_NAMES_SHOWN]) + (
        f" and {len(basic) - _NAMES_SHOWN} more" if len(basic) > _NAMES_SHOWN else ""
    )
    who = (
        f"{len(basic)} of {len(statuses)} probe targets still sign in with Basic auth (a password): {names}."
    )
    if passed:
        outlook = (
            "Since the end of December 2026 Basic SMTP AUTH is disabled by default for existing tenants "
            "(an admin can turn it back on), and tenants created since then get OAuth only; Microsoft is to "
            "announce the final removal date in the second half of 2027."
        )
    else:
        outlook = (
            "Basic SMTP AUTH keeps working through December 2026; at the end of December 2026 Microsoft "
            "disables it by default for existing tenants (an admin can turn it back on), tenants created "
            "after that get OAuth only, and Microsoft is to announce the final removal date in the second "
            "half of 2027."
        )
    advice = "Move them to OAuth: XOAUTH2 with an app registration granted SMTP.SendAsApp."
    return summary | {"text": f"{who} {outlook} {advice}"}


def purge(store: Store, retention_days: int) -> int:
    """Delete probe results older than `retention_days` (`alerts.history_retention_days`); returns how many."""
    return store.probes.purge(timedelta(days=retention_days))


@dataclass(frozen=True, slots=True)
class TargetSeries:
    """One target's probes per bucket: availability in percent and median latency, None where it had none."""

    target: str
    availability: list[float | None]
    latency_p50_ms: list[float | None]
    probes: int


@dataclass(frozen=True, slots=True)
class Timeline:
    """Bucketed probe history of several targets from `start` (a bucket boundary) to `end`."""

    start: datetime
    end: datetime
    bucket: timedelta
    series: list[TargetSeries]

    @property
    def bucket_starts(self) -> list[datetime]:
        count = len(self.series[0].availability) if self.series else 0
        return [self.start + n * self.bucket for n in range(count)]

    @property
    def edges(self) -> list[datetime]:
        """Where the buckets begin and end: the last (partial) one ends at `end`."""
        return bucket_edges(self.bucket_starts, self.end)

    @property
    def empty(self) -> bool:
        return not any(s.probes for s in self.series)


def bucket_edges(starts: Sequence[datetime], end: datetime) -> list[datetime]:
    """The bucket boundaries from the first start to `end`: one more than the buckets, none past `end`."""
    return [*(start for start in starts if start < end), end] if starts else []


def timeline(
    store: Store, targets: Sequence[Any], now: datetime, days: int = 7, bucket: timedelta | None = None
) -> Timeline:
    """The last `days` of probes of each target (objects with `name`) in buckets, one query.

    Buckets are hourly up to 2 days, else 3-hourly, unless `bucket` is given. They are aligned to whole
    multiples of `bucket` since the epoch, so the first one starts at or before `now - days`.
    """
    bucket = bucket or timedelta(hours=1 if days <= 2 else 3)
    size = bucket.total_seconds()
    first = (now - timedelta(days=days)).timestamp() // size * size
    start = datetime.fromtimestamp(first, UTC)
    count = max(1, math.ceil((now.timestamp() - first) / size))  # a probe at exactly `now` joins the last one
    names = [t.name for t in targets]
    oks: dict[str, list[list[bool]]] = {name: [[] for _ in range(count)] for name in names}
    latencies: dict[str, list[list[int]]] = {name: [[] for _ in range(count)] for name in names}
    for target, at, ok, latency in store.probes.samples(now - timedelta(days=days)):
        if target not in oks:
            continue
        index = min(int((at.timestamp() - first) // size), count - 1)
        oks[target][index].append(ok)
        if latency is not None:
            latencies[target][index].append(latency)
    series = [
        TargetSeries(
            target=name,
            availability=[100 * sum(b) / len(b) if b else None for b in oks[name]],
            latency_p50_ms=[float(statistics.median(b)) if b else None for b in latencies[name]],
            probes=sum(len(b) for b in oks[name]),
        )
        for name in names
    ]
    return Timeline(start=start, end=now, bucket=bucket, series=series)
