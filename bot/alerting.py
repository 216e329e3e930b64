"""Probe results -> alert state -> Slack messages, through the store and the outbox (nothing lost, once each)."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient

from bot.alerts import (
    FLAPPING,
    OPEN,
    RECOVER,
    REMIND,
    STABLE,
    UPDATE,
    Action,
    AlertPolicy,
    Observation,
    card_update,
    snooze,
    step,
)
from bot.clock import SYSTEM_CLOCK, Clock
from bot.diagnosis import explain
from bot.probe import ProbeResult
from bot.slack import alert_blocks
from bot.slack.outbox import Outbox, Retry
from bot.store import AlertState, Store

log = logging.getLogger(__name__)
SAVE_ATTEMPTS = 5


class Alerting:
    """Feeds each probe result to the alert policy and queues what it decides for delivery."""

    def __init__(self, store: Store, outbox: Outbox, client: WebClient, alerts_cfg: Any, channel: str | None, *,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.store = store
        self.outbox = outbox
        self.client = client
        self.policy = AlertPolicy.from_config(alerts_cfg)
        self.snooze_hours = int(alerts_cfg.snooze_hours)
        self.channel = channel
        self.clock = clock
        outbox.register("alert", self.send)

    # Deciding ------------------------------------------------------------------------------------
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
        if self.channel:
            for action in actions:
                self.outbox.enqueue("alert", action.to_dict(), dedupe_key=action.dedupe_key)
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
        if redraw is not None and self.channel:
            self.outbox.enqueue("alert", redraw.to_dict(), dedupe_key=redraw.dedupe_key)
        return until

    # Delivering ----------------------------------------------------------------------------------
    def send(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        action = Action.from_dict(payload)
        now = self.clock.now()
        if action.kind == OPEN:
            card = alert_blocks.alert_card(action, explanation=self._explain(action), now=now,
                                           snooze_hours=self.snooze_hours)
            answer = self.client.chat_postMessage(channel=self.channel, text=card["text"], blocks=card["blocks"])
            self._remember(action, answer["channel"], answer["ts"])
            return {"channel": answer["channel"], "ts": answer["ts"]}
        where = self._where(action)
        if action.kind in (UPDATE, RECOVER, FLAPPING) and where is None and action.incident_id:
            raise Retry(f"the alert of {action.incident_id} is not posted yet")
        if where is not None and action.kind in (UPDATE, RECOVER, FLAPPING):
            # Redraw first: it is idempotent, so a retry after a failed thread reply repeats nothing visible.
            card = alert_blocks.alert_card(action, explanation=self._explain(action), now=now,
                                           snooze_hours=self.snooze_hours)
            self.client.chat_update(channel=where[0], ts=where[1], text=card["text"], blocks=card["blocks"])
        note = {REMIND: alert_blocks.reminder_text, RECOVER: alert_blocks.recovery_text,
                FLAPPING: alert_blocks.flapping_text, STABLE: alert_blocks.stable_text}.get(action.kind)
        if note is not None:
            message = note(action, now=now)
            thread = {"thread_ts": where[1]} if where else {}
            answer = self.client.chat_postMessage(channel=where[0] if where else self.channel, text=message["text"],
                                                  blocks=message.get("blocks"), **thread)
            return {"channel": answer["channel"], "ts": answer["ts"]}
        return {"channel": where[0], "ts": where[1]} if where else None

    def _explain(self, action: Action) -> dict[str, Any]:
        return explain(action.reply) if action.reply else {"cause": action.cause or "unclassified"}

    def _where(self, action: Action) -> tuple[str, str] | None:
        """Channel and ts of the incident's card: from the action, the state, or the delivered `open`."""
        if action.alert_channel and action.alert_ts:
            return action.alert_channel, action.alert_ts
        if not action.incident_id:
            return None
        state = self.store.alerts.get(action.target)
        if state and state.incident_id == action.incident_id and state.alert_ts and state.alert_channel:
            return state.alert_channel, state.alert_ts
        opened = self.store.outbox.by_key(f"alert:{action.incident_id}:open")
        if opened and opened.state == "delivered" and opened.result and opened.result.get("ts"):
            return str(opened.result["channel"]), str(opened.result["ts"])
        return None

    def _remember(self, action: Action, channel: str, ts: str) -> None:
        for _ in range(SAVE_ATTEMPTS):
            state = self.store.alerts.get(action.target)
            if state is None or state.incident_id != action.incident_id:
                return  # the incident is over already; later messages find the card through the outbox
            if self.store.alerts.save(dataclasses.replace(state, alert_channel=channel, alert_ts=ts)) is not None:
                return
