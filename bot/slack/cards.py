"""The plan card of each change request, posted once and kept current with chat.update through the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient

from bot.clock import SYSTEM_CLOCK, Clock
from bot.errors import RetryLater
from bot.slack.blocks import plan_card
from bot.slack.outbox import Outbox
from bot.workflow.service import Workflow

POST_LEASE = timedelta(seconds=30)

#: Takes a named lease for a holder for a while (`Store.leases.acquire`); True if this holder has it.
Lease = Callable[[str, str, timedelta], bool]


class Cards:
    """`refresh(request_id)` queues a redraw; the outbox worker renders the state current at delivery."""

    def __init__(self, workflow: Workflow, client: WebClient, outbox: Outbox, lease: Lease, *,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.workflow = workflow
        self.client = client
        self.outbox = outbox
        self.lease = lease
        self.clock = clock
        self.holder = uuid.uuid4().hex
        outbox.register("card", self.send)

    def refresh(self, request_id: str) -> None:
        view = self.workflow.find(request_id)
        if view is None:
            return
        fingerprint = ",".join(f"{s.id}.{s.version}" for s in view.steps)
        held = "held" if view.held else "open"
        self.outbox.enqueue("card", {"request_id": request_id},
                            dedupe_key=f"card:{request_id}:{view.request.state}:{held}:{fingerprint}")

    def send(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        request_id = str(payload["request_id"])
        view = self.workflow.find(request_id)
        if view is None:
            return None
        if view.request.message_ts is None:
            # One process posts; the others wait for its ts and then update (no duplicate cards).
            if not self.lease(f"card-post:{request_id}", self.holder, POST_LEASE):
                raise RetryLater("another process is posting this card", after=1.0)
            view = self.workflow.find(request_id)
            if view is None:
                return None
        request = view.request
        card = plan_card(view, now=self.clock.now())
        if request.message_ts is None:
            answer = self.client.chat_postMessage(channel=request.channel, text=card["text"], blocks=card["blocks"])
            self.workflow.set_card_message(request_id, answer["channel"], answer["ts"])
            return {"channel": answer["channel"], "ts": answer["ts"]}
        self.client.chat_update(channel=request.channel, ts=request.message_ts, text=card["text"],
                                blocks=card["blocks"])
        return {"channel": request.channel, "ts": request.message_ts}
