"""The alert state machine: probe outcomes in, the next `AlertState` and the Slack messages out. Pure."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.probe.model import ProbeResult
from bot.store.records import AlertState

OK, FAILING, FLAPPING = "ok", "failing", "flapping"
STATUSES = (OK, FAILING, FLAPPING)

OPEN, UPDATE, REMIND, RECOVER, STABLE = "open", "update", "remind", "recover", "stable"
KINDS = (OPEN, UPDATE, REMIND, RECOVER, FLAPPING, STABLE)
"""`open`: post the incident's card. `update`: rewrite it. `remind`, `stable`: a reply in its thread (in the
channel when no incident is open). `recover`: a thread reply and the card redrawn as recovered. `flapping`:
a reply in the thread (and the card redrawn as flapping) when an incident is open, else a channel message."""

CAUSE_CHANGED = "cause_changed"
SNOOZED, UNSNOOZED = "snoozed", "unsnoozed"
PLAN_LINKED = "plan_linked"
"""`update` reason: a plan started from the card (its Fix) was posted in its thread, and the card now links it."""
REDRAWS = (SNOOZED, UNSNOOZED, PLAN_LINKED)

_TIMES = ("at", "first_failure_at", "last_failure_at", "snoozed_until")


def _aware(moment: datetime | None, name: str) -> None:
    if moment is not None and moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, not {moment!r}")


@dataclass(frozen=True)
class AlertPolicy:
    """When a failing target raises, repeats and clears an alert (see `AlertsConfig`)."""

    failures_before_alert: int = 2
    successes_before_recovery: int = 1
    remind_every: timedelta | None = timedelta(minutes=240)
    """None: no reminders."""
    flap_window: int = 21
    flap_threshold: int = 6
    """Flapping starts above this many outcome changes in the window..."""
    flap_clear: int = 3
    """...and ends at this many or fewer."""
    snooze: timedelta = timedelta(hours=24)
    """How long the Snooze button snoozes."""

    def __post_init__(self) -> None:
        if self.failures_before_alert < 1 or self.successes_before_recovery < 1:
            raise ValueError("failures_before_alert and successes_before_recovery must be at least 1")
        if not 0 <= self.flap_clear <= self.flap_threshold < self.flap_window:
            raise ValueError("need 0 <= flap_clear <= flap_threshold < flap_window")

    @classmethod
    def from_config(cls, alerts_cfg: Any) -> AlertPolicy:
        """The policy of a loaded `alerts` section; the flapping exit is half the entry threshold."""
        minutes = alerts_cfg.remind_every_minutes
        return cls(
            failures_before_alert=alerts_cfg.failures_before_alert,
            successes_before_recovery=alerts_cfg.successes_before_recovery,
            remind_every=timedelta(minutes=minutes) if minutes else None,
            flap_window=alerts_cfg.flap_window,
            flap_threshold=alerts_cfg.flap_threshold,
            flap_clear=alerts_cfg.flap_threshold // 2,
            snooze=timedelta(hours=alerts_cfg.snooze_hours),
        )


@dataclass(frozen=True)
class Observation:
    """One probe outcome of one target, as the policy sees it."""

    target: str
    mailbox: str
    ok: bool
    at: datetime
    cause: str | None = None
    reply: str | None = None
    """The server's reply (all lines), or the probe's own message when there was none."""
    phase: str | None = None

    def __post_init__(self) -> None:
        _aware(self.at, "at")

    @classmethod
    def from_probe(cls, result: ProbeResult) -> Observation:
        reply = result.reply.raw if result.reply and result.reply.raw else result.message
        return cls(target=result.name, mailbox=result.mailbox, ok=result.ok, at=result.started_at,
                   cause=None if result.ok else result.cause, reply=reply, phase=result.phase)


@dataclass(frozen=True)
class Action:
    """A message to send, carrying everything its renderer needs; `alert_channel`/`alert_ts` may still be
    None when the card is not delivered yet: look them up by `incident_id` at delivery."""

    kind: str
    target: str
    mailbox: str
    at: datetime
    """When the probe that caused it ran (the recovery time of a `recover`)."""
    ok: bool
    """How that probe went."""
    incident_id: str | None = None
    count: int = 0
    """Failures of the incident (or of the streak, when none is open)."""
    cause: str | None = None
    """The last failure's cause, and below its reply and (when this probe failed) phase."""
    reply: str | None = None
    phase: str | None = None
    first_failure_at: datetime | None = None
    last_failure_at: datetime | None = None
    reason: str | None = None
    """`update` only: `cause_changed`, or `snoozed`/`unsnoozed` from `card_update`."""
    previous_cause: str | None = None
    alert_channel: str | None = None
    alert_ts: str | None = None
    snoozed_until: datetime | None = None
    snoozed_by: str | None = None
    changes: int = 0
    """`flapping`/`stable`: outcome changes within the last `probes` outcomes."""
    probes: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")

    @property
    def dedupe_key(self) -> str:
        """An outbox key: one `open` and one `recover` per incident, every other message once per probe (a
        snooze's and an unsnooze's redraw at the same instant are two)."""
        key = f"alert:{self.incident_id or self.target}:{self.kind}"
        if self.kind in (OPEN, RECOVER):
            return key
        return f"{key}:{self.reason}:{self.at.isoformat()}" if self.reason in REDRAWS else (
            f"{key}:{self.at.isoformat()}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, datetimes as ISO 8601: an outbox payload."""
        data = asdict(self)
        for name in _TIMES:
            data[name] = data[name].isoformat() if data[name] else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Action:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name in _TIMES:
            if values.get(name):
                values[name] = datetime.fromisoformat(values[name])
        return cls(**values)


def incident_id(target: str, first_failure_at: datetime) -> str:
    """The same streak always gets the same id, so a replayed decision dedupes in the outbox."""
    return f"{target}:{first_failure_at.astimezone(UTC):%Y%m%dT%H%M%S}"


def flap_changes(history: list[Any]) -> int:
    """How often the outcome changed between neighbouring entries of `history`."""
    return sum(1 for before, after in zip(history, history[1:], strict=False) if bool(before) != bool(after))


def is_snoozed(state: AlertState, now: datetime) -> bool:
    """Whether a snooze holds: until its end, only for the incident it was set on (set before one opened: until
    one opens), and only while that incident fails with the cause it had then, like a silence's matchers."""
    return (state.snoozed_until is not None and state.snoozed_until > now
            and state.snoozed_incident == state.incident_id
            and state.snoozed_cause in (None, state.last_cause))


def snooze(state: AlertState, until: datetime, by: str | None = None) -> AlertState:
    """No new alert and no reminder before `until`, for the open incident and its cause, set by `by`."""
    _aware(until, "until")
    cause = state.last_cause if state.incident_id or state.consecutive_failures else None
    return replace(state, snoozed_until=until, snoozed_by=by, snoozed_incident=state.incident_id,
                   snoozed_cause=cause)


def unsnooze(state: AlertState) -> AlertState:
    return replace(state, snoozed_until=None, snoozed_by=None, snoozed_incident=None, snoozed_cause=None)


def card_update(state: AlertState, *, mailbox: str, at: datetime, reason: str | None = None) -> Action | None:
    """An `update` redrawing the open incident's card as the state stands, e.g. after (un)snoozing it (the
    reason says which unless given, e.g. PLAN_LINKED)."""
    if state.incident_id is None:
        return None
    return _action(UPDATE, state, mailbox, at, ok=False,
                   reason=reason or (SNOOZED if is_snoozed(state, at) else UNSNOOZED))


def step(state: AlertState, obs: Observation, policy: AlertPolicy) -> tuple[AlertState, list[Action]]:
    """The state after `obs` and the messages to send for it, in order. `version` is left for the store.

    One incident per failure streak (Uptime Kuma's N in a row), its card rewritten in place, a reminder every
    `remind_every` (Alertmanager's repeat interval), one recovery (`send_resolved`), and Nagios-style flap
    detection over the last `flap_window` outcomes.

    Statuses: `ok`; `failing` (at least `failures_before_alert` failures in a row: an alert is posted unless
    snoozed, and `incident_id` is set exactly while one is); `flapping`. A snooze is `snoozed_until`, not a
    status, so a snoozed target keeps its real one.

    - Flapping starts above `flap_threshold` outcome changes in the window and, as in Nagios, ends only at
      `flap_clear` (half the threshold) or fewer, so a target hovering at the threshold is not announced
      again and again. While flapping nothing is sent; an open card stays as the `flapping` action drew it.
      Leaving is said once: by the `open` or `recover` that the normal evaluation of that probe sends, or
      else by one `stable` note (in the incident's thread when one is open, counting as its reminder).
    - Snoozed (`is_snoozed`): no `open`, no `remind`. `update` (a silent edit of a card already posted),
      `recover`, `flapping` and `stable` still go out. A streak that reached the threshold during the snooze
      opens its alert at the first failure after the snooze. A snooze ends with its incident, and a new cause
      ends it at once with a `remind`: it never hides a different failure.
    - Inside an incident `consecutive_failures` counts the incident's failures (a success too few to
      recover does not reset it); outside one, a single success resets it.
    - `last_reminder_at` is the last ping of the incident: the alert itself or a reminder.
    """
    if obs.target != state.target:
        raise ValueError(f"observation of {obs.target!r} given to the state of {state.target!r}")
    history = [*map(bool, state.history), obs.ok][-policy.flap_window:]
    was_flapping = state.status == FLAPPING
    changes = flap_changes(history)
    if obs.ok:
        nxt = replace(state, history=history, consecutive_successes=state.consecutive_successes + 1)
        if state.incident_id is None:
            nxt = replace(nxt, consecutive_failures=0, first_failure_at=None)
    else:
        first = state.first_failure_at if state.consecutive_failures and state.first_failure_at else obs.at
        nxt = replace(state, history=history, consecutive_failures=state.consecutive_failures + 1,
                      consecutive_successes=0, first_failure_at=first, last_failure_at=obs.at,
                      last_cause=obs.cause, last_reply=obs.reply)
    if changes > (policy.flap_clear if was_flapping else policy.flap_threshold):
        nxt = replace(nxt, status=FLAPPING)
        if was_flapping:
            return nxt, []
        return nxt, [_action(FLAPPING, nxt, obs.mailbox, obs.at, ok=obs.ok, phase=obs.phase, changes=changes,
                             probes=len(history))]
    nxt, actions = _evaluate(state, nxt, obs, policy, may_remind=not was_flapping)
    if was_flapping and not any(a.kind in (OPEN, RECOVER) for a in actions):
        note = _action(STABLE, nxt, obs.mailbox, obs.at, ok=obs.ok, phase=obs.phase, changes=changes,
                       probes=len(history))
        actions.insert(0, note)
        if nxt.incident_id is not None:
            nxt = replace(nxt, last_reminder_at=obs.at)
    return nxt, actions


def _evaluate(prev: AlertState, nxt: AlertState, obs: Observation, policy: AlertPolicy,
              *, may_remind: bool) -> tuple[AlertState, list[Action]]:
    """Normal evaluation, outside flapping: open, update, remind or recover."""
    snoozed = is_snoozed(nxt, obs.at)
    if nxt.incident_id is not None:
        if obs.ok:
            if nxt.consecutive_successes < policy.successes_before_recovery:
                return replace(nxt, status=FAILING), []
            recovered = _action(RECOVER, nxt, obs.mailbox, obs.at, ok=True)
            return replace(unsnooze(nxt), status=OK, incident_id=None, alert_channel=None, alert_ts=None,
                           consecutive_failures=0, first_failure_at=None, last_reminder_at=None), [recovered]
        lapsed = is_snoozed(prev, obs.at) and not snoozed  # a new cause: the snooze was for the old one
        nxt = replace(unsnooze(nxt) if lapsed else nxt, status=FAILING)
        changed = prev.last_cause != obs.cause
        actions = [_action(UPDATE, nxt, obs.mailbox, obs.at, ok=False, phase=obs.phase,
                           reason=CAUSE_CHANGED if changed else None,
                           previous_cause=prev.last_cause if changed else None)]
        since = nxt.last_reminder_at or nxt.first_failure_at
        due = policy.remind_every is not None and since is not None and obs.at - since >= policy.remind_every
        if may_remind and (due or lapsed) and not snoozed:
            actions.append(_action(REMIND, nxt, obs.mailbox, obs.at, ok=False, phase=obs.phase))
            nxt = replace(nxt, last_reminder_at=obs.at)
        return nxt, actions
    if obs.ok or nxt.consecutive_failures < policy.failures_before_alert:
        return replace(nxt, status=OK), []
    if snoozed:
        return replace(nxt, status=FAILING), []
    nxt = replace(unsnooze(nxt), status=FAILING, incident_id=incident_id(nxt.target, nxt.first_failure_at or obs.at),
                  alert_channel=None, alert_ts=None, last_reminder_at=obs.at)
    return nxt, [_action(OPEN, nxt, obs.mailbox, obs.at, ok=False, phase=obs.phase)]


def _action(kind: str, state: AlertState, mailbox: str, at: datetime, *, ok: bool, phase: str | None = None,
            **extra: Any) -> Action:
    return Action(kind=kind, target=state.target, mailbox=mailbox, at=at, ok=ok, incident_id=state.incident_id,
                  count=state.consecutive_failures, cause=state.last_cause, reply=state.last_reply,
                  phase=None if ok else phase, first_failure_at=state.first_failure_at,
                  last_failure_at=state.last_failure_at, alert_channel=state.alert_channel,
                  alert_ts=state.alert_ts, snoozed_until=state.snoozed_until, snoozed_by=state.snoozed_by,
                  **extra)
