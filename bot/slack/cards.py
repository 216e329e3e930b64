"""The plan card of each change request, posted once and kept current with chat.update through the outbox.

Posting is idempotent across a crash: the card carries message metadata (`CARD_EVENT`, the request id), and the
`card-post:{request_id}` lease row is the mark that a post was attempted. A process killed after Slack took the
card but before its ts was stored leaves that mark; whoever posts next first looks the card up in the channel's
recent history (conversations.history, the bot's own messages with that metadata) and adopts its ts.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clock import SYSTEM_CLOCK, Clock
from bot.errors import RetryLater
from bot.slack.blocks import plan_card
from bot.slack.outbox import Outbox
from bot.workflow.service import Workflow

log = logging.getLogger(__name__)

POST_LEASE = timedelta(seconds=30)
#: The metadata event type every plan card carries, with `{"request_id": ...}` as its payload.
CARD_EVENT = "smtp_auth_plan_card"
#: How far before the request was received a card is looked for (clocks of Slack and the bot may differ).
LOOKUP_SKEW = timedelta(minutes=5)
#: conversations.history pages read when looking a card up, newest first, at most HISTORY_PAGE messages each.
HISTORY_PAGES = 5
HISTORY_PAGE = 200


class Leases(Protocol):
    """Named leases (`Store.leases`)."""

    def acquire(self, name: str, holder: str, ttl: timedelta) -> bool: ...
    def expires_at(self, name: str) -> datetime | None: ...


class Cards:
    """`refresh(request_id)` queues a redraw; the outbox worker renders the state current at delivery."""

    def __init__(self, workflow: Workflow, client: WebClient, outbox: Outbox, leases: Leases, *,
                 clock: Clock = SYSTEM_CLOCK, post_lease: timedelta = POST_LEASE) -> None:
        self.workflow = workflow
        self.post_lease = post_lease
        self.client = client
        self.outbox = outbox
        self.leases = leases
        self.clock = clock
        self.holder = uuid.uuid4().hex
        self._bot_id: str | None = None
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
            name = f"card-post:{request_id}"
            attempted = self.leases.expires_at(name) is not None
            if not self.leases.acquire(name, self.holder, self.post_lease):
                raise RetryLater("another process is posting this card", after=1.0)
            view = self.workflow.find(request_id)
            if view is None:
                return None
            if view.request.message_ts is None and attempted:
                ts = self.find_posted(request_id, view.request.channel, view.request.created_at)
                if ts is not None:
                    self.workflow.set_card_message(request_id, view.request.channel, ts)
                    view = self.workflow.find(request_id)
                    if view is None:
                        return None
        request = view.request
        card = plan_card(view, now=self.clock.now())
        if request.message_ts is None:
            answer = self.client.chat_postMessage(channel=request.channel, text=card["text"], blocks=card["blocks"],
                                                  metadata={"event_type": CARD_EVENT,
                                                            "event_payload": {"request_id": request_id}})
            self.workflow.set_card_message(request_id, answer["channel"], answer["ts"])
            return {"channel": answer["channel"], "ts": answer["ts"]}
        self.client.chat_update(channel=request.channel, ts=request.message_ts, text=card["text"],
                                blocks=card["blocks"])
        return {"channel": request.channel, "ts": request.message_ts}

    def find_posted(self, request_id: str, channel: str, since: datetime) -> str | None:
        """The ts of the bot's own card for `request_id` in `channel` posted after `since`, newest first."""
        if self._bot_id is None:
            self._bot_id = str(self.client.auth_test()["bot_id"])
        oldest = f"{(since - LOOKUP_SKEW).timestamp():.6f}"
        cursor = None
        for _ in range(HISTORY_PAGES):
            try:
                answer = self.client.conversations_history(channel=channel, oldest=oldest, limit=HISTORY_PAGE,
                                                           include_all_metadata=True, cursor=cursor)
            except SlackApiError as exc:
                if exc.response is None or exc.response.get("error") != "missing_scope":
                    raise
                # An install from before the history scopes: post again rather than never (doctor names the fix).
                log.warning("cannot look for the card of %s without %s: posting it again", request_id,
                            exc.response.get("needed") or "channels:history")
                return None
            for message in answer.get("messages") or []:
                metadata = message.get("metadata") or {}
                if (message.get("bot_id") == self._bot_id and metadata.get("event_type") == CARD_EVENT
                        and (metadata.get("event_payload") or {}).get("request_id") == request_id):
                    return str(message["ts"])
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not answer.get("has_more") or not cursor:
                return None
        return None
