"""Probe results -> alert state -> alert actions queued for delivery (the store keeps the state; no Slack here)."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from bot.alerts.policy import Action, AlertPolicy, Observation, card_update, snooze, step
from bot.clock import SYSTEM_CLOCK, Clock
from bot.probe.model import ProbeResult
from bot.store.models import OutboxState
from bot.store.records import AlertState

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger(__name__)
SAVE_ATTEMPTS = 5
KIND = "alert"  # the outbox kind of every queued alert action


class Queue(Protocol):
    """Where decided actions wait for delivery (`bot.slack.outbox.Outbox`)."""

    def enqueue(self, kind: str, payload: dict[str, Any], dedupe_key: str | None = None) -> int: ...


class Alerting:
    """Feeds each probe result to the alert policy, saves the state, and queues what it decides."""

    def __init__(self, store: Store, queue: Queue, alerts_cfg: Any, channel: str | None, *,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.store = store
        self.queue = queue
        self.policy = AlertPolicy.from_config(alerts_cfg)
        self.snooze_hours = int(alerts_cfg.snooze_hours)
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

    def snooze(self, target: str, mailbox: str, actor: str) -> datetime | None:
        """Silence new alerts and reminders for the configured hours; audited. Returns the end, or None."""
        until = self.clock.now() + timedelta(hours=self.snooze_hours)
        for _ in range(SAVE_ATTEMPTS):
            state = self.store.alerts.get(target)
            if state is None:
                return None
            if self.store.alerts.save(snooze(state, until)) is not None:
                break
        else:
            return None
        self.store.requests.audit(actor, "alert.snoozed", target=target, before={"snoozed_until": state.snoozed_until},
                                  after={"snoozed_until": until}, detail={"mailbox": mailbox})
        redraw = card_update(snooze(state, until), mailbox=mailbox, at=self.clock.now())
        if redraw is not None:
            self._queue(redraw)
        return until

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
