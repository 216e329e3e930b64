"""The plan card of each change request, posted once and kept current with chat.update through the outbox."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient

from bot.clock import SYSTEM_CLOCK, Clock
from bot.slack.blocks import plan_card
from bot.slack.outbox import Outbox, Retry
from bot.store import Store
from bot.workflow.service import RequestView

POST_LEASE = timedelta(seconds=30)


class Cards:
    """`refresh(request_id)` queues a redraw; the outbox worker renders the state current at delivery."""

    def __init__(self, store: Store, client: WebClient, outbox: Outbox, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.store = store
        self.client = client
        self.outbox = outbox
        self.clock = clock
        self.holder = uuid.uuid4().hex
        outbox.register("card", self.send)

    def refresh(self, request_id: str) -> None:
        request = self.store.get_request(request_id)
        if request is None:
            return
        steps = self.store.get_steps(request_id)
        fingerprint = ",".join(f"{s.id}.{s.version}" for s in steps)
        self.outbox.enqueue("card", {"request_id": request_id},
                            dedupe_key=f"card:{request_id}:{request.state}:{fingerprint}")

    def send(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        request_id = str(payload["request_id"])
        request = self.store.get_request(request_id)
        if request is None:
            return None
        if request.message_ts is None:
            # One process posts; the others wait for its ts and then update (no duplicate cards).
            if not self.store.acquire_lease(f"card-post:{request_id}", self.holder, POST_LEASE):
                raise Retry("another process is posting this card", after=1.0)
            request = self.store.get_request(request_id)
            assert request is not None
        view = RequestView(request, self.store.get_steps(request_id))
        card = plan_card(view, now=self.clock.now())
        if request.message_ts is None:
            answer = self.client.chat_postMessage(channel=request.channel, text=card["text"], blocks=card["blocks"])
            self.store.set_message(request_id, answer["channel"], answer["ts"])
            return {"channel": answer["channel"], "ts": answer["ts"]}
        self.client.chat_update(channel=request.channel, ts=request.message_ts, text=card["text"],
                                blocks=card["blocks"])
        return {"channel": request.channel, "ts": request.message_ts}
