"""Probe results -> alert state -> alert actions queued for delivery (the store keeps the state; no Slack here)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from bot.alerts.policy import (
    PLAN_LINKED,
    Action,
    AlertPolicy,
    Observation,
    card_update,
    is_snoozed,
    snooze,
    step,
    unsnooze,
)
from bot.clock import SYSTEM_CLOCK, Clock
from bot.errors import BotError, NotAllowed
from bot.probe.model import ProbeResult
from bot.store.models import OutboxState
from bot.store.records import AlertState

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger(__name__)
SAVE_ATTEMPTS = 5
KIND = "alert"  # the outbox kind of every queued alert action


class StaleAlert(BotError):
    """A Snooze or Unsnooze clicked on a card whose incident (or cause) is no longer the open one."""


def _stale(state: AlertState, incident: str | None, cause: str | None) -> str | None:
    """Why a click on a card showing `incident` and `cause` must not act on `state`, else None (None `incident`: a
    card drawn before buttons carried it, acted on as before)."""
    if incident is None:
        return None
    if state.incident_id != incident:
        return ("This alert card is out of date: the incident it shows is over"
                + (", and a new one is open" if state.incident_id else "") + ". Nothing was changed; use the buttons "
                "on the current alert.")
    if cause is not None and state.last_cause not in (None, cause):
        return (f"This alert card is out of date: the cause changed to {state.last_cause}. Nothing was changed; "
                "use the buttons on the redrawn card.")
    return None


class Queue(Protocol):
    """Where decided actions wait for delivery (`bot.slack.outbox.Outbox`)."""

    def enqueue(self, kind: str, payload: dict[str, Any], dedupe_key: str | None = None) -> int: ...


class Alerting:
    """Feeds each probe result to the alert policy, saves the state, and queues what it decides."""

    def __init__(self, store: Store, queue: Queue, alerts_cfg: Any, channel: str | None, *,
                 clock: Clock = SYSTEM_CLOCK, is_approver: Callable[[str], bool] = lambda user: False) -> None:
        self.store = store
        self.queue = queue
        self.policy = AlertPolicy.from_config(alerts_cfg)
        self.snooze_hours = int(alerts_cfg.snooze_hours)
        self.snooze_by = str(alerts_cfg.snooze_by)
        self.is_approver = is_approver
        self.channel = channel
        self.clock = clock

    def on_result(self, target: Any, result: ProbeResult) -> list[Action]:
        return self.observe(Observation.from_probe(result))

    def observe(self, obs: Observation) -> list[Action]:
        for _ in range(SAVE_ATTEMPTS):  # optimistic concurrency: replay the step on a fresh state
            state = self.store.alerts.get(obs.target) or AlertState(target=obs.target)
            new_state, actions = step(state, obs, self.policy)
            if self.store.alerts.save(new_state) is not None:
                break
        else:
            log.error("alert state of %s kept changing under us; result dropped", obs.target)
            return []
        for action in actions:
            self._queue(action)
        return actions

    def snooze(self, target: str, mailbox: str, actor: str, hours: int, *, incident: str | None = None,
               cause: str | None = None) -> datetime | None:
        """Silence the open incident's alert and reminders for `hours`, for its cause; audited, refusals too.

        Returns the end, or None when no incident is open. Raises NotAllowed when `actor` may not snooze, and
        StaleAlert (changing nothing) when `incident` (the clicked card's) is no longer the open one or its cause
        changed, checked in the same optimistic save as the snooze.
        """
        self._check(actor, "alert.snooze_refused", target, mailbox)
        if not 0 < hours <= self.snooze_hours:
            raise NotAllowed(f"Snoozes here last at most {self.snooze_hours} h.")
        until = self.clock.now() + timedelta(hours=hours)

        def change(state: AlertState) -> AlertState | None:
            self._refuse_stale(state, actor, "alert.snooze_refused", mailbox, incident, cause)
            return snooze(state, until, by=actor) if state.incident_id else None

        saved = self._change(target, change)
        if saved is None:
            return None
        before, after = saved
        self.store.requests.audit(actor, "alert.snoozed", target=target, before={"snoozed_until": before.snoozed_until},
                                  after={"snoozed_until": until, "incident_id": after.snoozed_incident,
                                         "cause": after.snoozed_cause},
                                  detail={"mailbox": mailbox, "hours": hours})
        self._redraw(after, mailbox)
        return until

    def unsnooze(self, target: str, mailbox: str, actor: str, *, incident: str | None = None,
                 cause: str | None = None) -> bool:
        """End a snooze that holds now; audited, refusals too. False when none does; StaleAlert as for `snooze`."""
        self._check(actor, "alert.unsnooze_refused", target, mailbox)
        now = self.clock.now()

        def change(state: AlertState) -> AlertState | None:
            self._refuse_stale(state, actor, "alert.unsnooze_refused", mailbox, incident, cause)
            return unsnooze(state) if is_snoozed(state, now) else None

        saved = self._change(target, change)
        if saved is None:
            return False
        before, after = saved
        self.store.requests.audit(actor, "alert.unsnoozed", target=target,
                                  before={"snoozed_until": before.snoozed_until, "snoozed_by": before.snoozed_by},
                                  after={"snoozed_until": None}, detail={"mailbox": mailbox})
        self._redraw(after, mailbox)
        return True

    def _refuse_stale(self, state: AlertState, actor: str, refused: str, mailbox: str, incident: str | None,
                      cause: str | None) -> None:
        reason = _stale(state, incident, cause)
        if reason is not None:
            self.store.requests.audit(actor, refused, target=state.target,
                                      detail={"mailbox": mailbox, "reason": "stale card", "incident": incident})
            raise StaleAlert(reason)

    def _check(self, actor: str, refused: str, target: str, mailbox: str) -> None:
        if self.snooze_by == "anyone" or self.is_approver(actor):
            return
        self.store.requests.audit(actor, refused, target=target, detail={"mailbox": mailbox})
        raise NotAllowed("Only approvers can snooze or unsnooze alerts here (alerts.snooze_by: approvers).")

    def _change(self, target: str, change: Callable[[AlertState], AlertState | None]
                ) -> tuple[AlertState, AlertState] | None:
        """Apply `change` to the target's state with optimistic retries: (before, after), or None if it declined."""
        for _ in range(SAVE_ATTEMPTS):
            state = self.store.alerts.get(target)
            changed = change(state) if state is not None else None
            if state is None or changed is None:
                return None
            if self.store.alerts.save(changed) is not None:
                return state, changed
        return None

    def _redraw(self, state: AlertState, mailbox: str, reason: str | None = None) -> None:
        redraw = card_update(state, mailbox=mailbox, at=self.clock.now(), reason=reason)
        if redraw is not None:
            self._queue(redraw)

    def plan_posted(self, channel: str, ts: str, mailbox: str) -> bool:
        """A plan was posted in the thread of the card at `channel`/`ts`: redraw that card (if its incident is still
        open) so it links the plan. False when no open incident's card is there."""
        for state in self.store.alerts.list():
            if state.alert_channel == channel and state.alert_ts == ts and state.incident_id:
                self._redraw(state, mailbox, PLAN_LINKED)
                return True
        return False

    def card_location(self, action: Action) -> tuple[str, str] | None:
        """Channel and ts of the incident's card: from the action, the state, or the delivered `open`."""
        if action.alert_channel and action.alert_ts:
            return action.alert_channel, action.alert_ts
        if not action.incident_id:
            return None
        state = self.store.alerts.get(action.target)
        if state and state.incident_id == action.incident_id and state.alert_ts and state.alert_channel:
            return state.alert_channel, state.alert_ts
        opened = self.store.outbox.by_key(f"alert:{action.incident_id}:open")
        if opened and opened.state == OutboxState.DELIVERED and opened.result and opened.result.get("ts"):
            return str(opened.result["channel"]), str(opened.result["ts"])
        return None

    def remember_card(self, action: Action, channel: str, ts: str) -> None:
        """Keep where the incident's card was posted in its state, while the incident lasts."""
        for _ in range(SAVE_ATTEMPTS):
            state = self.store.alerts.get(action.target)
            if state is None or state.incident_id != action.incident_id:
                return  # the incident is over already; later messages find the card through the outbox
            if self.store.alerts.save(dataclasses.replace(state, alert_channel=channel, alert_ts=ts)) is not None:
                return

    def _queue(self, action: Action) -> None:
        if self.channel:
            self.queue.enqueue(KIND, action.to_dict(), dedupe_key=action.dedupe_key)
