"""Delivering queued alert actions to Slack: the incident's card posted once and redrawn, notes in its thread."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from slack_sdk import WebClient

from bot.alerts.policy import FLAPPING, OPEN, RECOVER, REMIND, STABLE, UPDATE, Action
from bot.clock import SYSTEM_CLOCK, Clock
from bot.diagnosis import explain
from bot.errors import RetryLater
from bot.logs import log_context
from bot.slack import alert_blocks
from bot.slack.alert_blocks import PlanLink
from bot.slack.outbox import Outbox
from bot.workflow.model import ChangeRequest

REDRAWN = (UPDATE, RECOVER, FLAPPING)
NOTES = {REMIND: alert_blocks.reminder_text, RECOVER: alert_blocks.recovery_text,
         FLAPPING: alert_blocks.flapping_text, STABLE: alert_blocks.stable_text}


class CardLocator(Protocol):
    """Where an incident's card is (`bot.alerts.service.Alerting`)."""

    def card_location(self, action: Action) -> tuple[str, str] | None: ...
    def remember_card(self, action: Action, channel: str, ts: str) -> None: ...


class AlertDelivery:
    """The outbox's sender for kind `alert`: renders each action with `alert_blocks` at delivery time."""

    def __init__(self, cards: CardLocator, client: WebClient, outbox: Outbox, channel: str | None, *,
                 snooze_hours: int, clock: Clock = SYSTEM_CLOCK,
                 plans: Callable[[str, str], Sequence[ChangeRequest]] = lambda channel, ts: ()) -> None:
        self.cards = cards
        self.plans = plans  # the requests whose plan cards are in a thread (`Workflow.started_in`)
        self.client = client
        self.channel = channel
        self.snooze_hours = snooze_hours
        self.clock = clock
        self.outbox = outbox
        outbox.register("alert", self.send)

    def send(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        action = Action.from_dict(payload)
        with log_context(incident=action.incident_id):
            return self._deliver(action)

    def _deliver(self, action: Action) -> dict[str, Any] | None:
        now = self.clock.now()
        if action.kind == OPEN:
            card = self._card(action, now)
            answer = self.client.chat_postMessage(channel=self.channel, text=card["text"], blocks=card["blocks"])
            self.cards.remember_card(action, answer["channel"], answer["ts"])
            return {"channel": answer["channel"], "ts": answer["ts"]}
        where = self.cards.card_location(action)
        if action.kind in REDRAWN and where is None and action.incident_id:
            # An opening given up on (a long outage) is queued again, so this update does not wait forever.
            self.outbox.revive(f"alert:{action.incident_id}:open")
            raise RetryLater(f"the alert of {action.incident_id} is not posted yet")
        if where is not None and action.kind in REDRAWN:
            # Redraw first: it is idempotent, so a retry after a failed thread reply repeats nothing visible.
            card = self._card(action, now, self._links(*where))
            self.client.chat_update(channel=where[0], ts=where[1], text=card["text"], blocks=card["blocks"])
        note = NOTES.get(action.kind)
        if note is not None:
            message = note(action, now=now)
            thread = {"thread_ts": where[1]} if where else {}
            answer = self.client.chat_postMessage(channel=where[0] if where else self.channel, text=message["text"],
                                                  blocks=message.get("blocks"), **thread)
            return {"channel": answer["channel"], "ts": answer["ts"]}
        return {"channel": where[0], "ts": where[1]} if where else None

    def _card(self, action: Action, now: datetime, plans: Sequence[PlanLink] = ()) -> dict[str, Any]:
        explanation = explain(action.reply) if action.reply else {"cause": action.cause or "unclassified"}
        return alert_blocks.alert_card(action, explanation=explanation, now=now,
                                       snooze_hours=self.snooze_hours, plans=plans)

    def _links(self, channel: str, ts: str) -> list[PlanLink]:
        """The plans started from the card at `channel`/`ts`, each with its permalink (chat.getPermalink needs no
        scope: https://api.slack.com/methods/chat.getPermalink); a card not posted yet has none."""
        links = []
        for request in self.plans(channel, ts):
            url = None
            if request.message_ts:
                url = str(self.client.chat_getPermalink(channel=request.channel,
                                                        message_ts=request.message_ts)["permalink"])
            links.append((request.id, request.requester, url))
        return links
