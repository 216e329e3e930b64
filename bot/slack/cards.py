"""The plan card of each change request, posted once and kept current with chat.update through the outbox.

Posting is idempotent across a crash: the card carries message metadata (`CARD_EVENT`, the request id), and the
`card-post:{request_id}` lease row is the mark that a post was attempted. A process killed after Slack took the
card but before its ts was stored leaves that mark; whoever posts next first looks the card up in the channel's
recent history (conversations.history, or conversations.replies for a card in a thread such as an alert's: the
bot's own messages with that metadata) and adopts its ts.

A bulk step with more mailboxes than the card names gets its full list as a CSV in the card's thread, once the card
is there (outbox kind `bulk_csv`, one per step, uploaded with `files_upload_v2`: files.getUploadURLExternal, the
bytes, files.completeUploadExternal into the channel and thread).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from slack_sdk import WebClient

from bot.clock import SYSTEM_CLOCK, Clock
from bot.errors import RetryLater
from bot.slack.blocks import plan_card
from bot.slack.blocks.bulk import mailboxes_csv, needs_csv
from bot.slack.lookup import OwnMessages
from bot.slack.outbox import Outbox
from bot.workflow.service import Workflow

POST_LEASE = timedelta(seconds=30)
#: The metadata event type every plan card carries, with `{"request_id": ...}` as its payload.
CARD_EVENT = "smtp_auth_plan_card"
#: How far before the request was received a card is looked for (clocks of Slack and the bot may differ).
LOOKUP_SKEW = timedelta(minutes=5)


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
        self.own = OwnMessages(client)
        #: Told (channel, thread_ts, mailbox) when a card is first posted in a thread: the alert links it.
        self.on_thread_post: Callable[[str, str, str], object] = lambda channel, thread_ts, upn: None
        outbox.register("card", self.send)
        outbox.register("bulk_csv", self.send_csv)

    def refresh(self, request_id: str) -> None:
        view = self.workflow.find(request_id)
        if view is None:
            return
        fingerprint = ",".join(f"{s.id}.{s.version}" for s in view.steps)
        # A bulk step's progress moves its mailboxes, not its version: "applying: 120 of 300" redraws too.
        fingerprint += "".join(f";{step_id}:" + ".".join(f"{state}{n}" for state, n in sorted(
            Counter(m.state for m in boxes).items())) for step_id, boxes in sorted(view.mailboxes.items()))
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
                ts = self.find_posted(request_id, view.request.channel, view.request.created_at,
                                      view.request.thread_ts)
                if ts is not None:
                    self.workflow.set_card_message(request_id, view.request.channel, ts)
                    if view.request.thread_ts:
                        self.on_thread_post(view.request.channel, view.request.thread_ts, view.request.upn)
                    view = self.workflow.find(request_id)
                    if view is None:
                        return None
        request = view.request
        card = plan_card(view, now=self.clock.now())
        if request.message_ts is None:
            thread = {"thread_ts": request.thread_ts} if request.thread_ts else {}
            answer = self.client.chat_postMessage(channel=request.channel, text=card["text"], blocks=card["blocks"],
                                                  metadata={"event_type": CARD_EVENT,
                                                            "event_payload": {"request_id": request_id}}, **thread)
            self.workflow.set_card_message(request_id, answer["channel"], answer["ts"])
            if request.thread_ts:
                self.on_thread_post(answer["channel"], request.thread_ts, request.upn)
            self._queue_csv(view)
            return {"channel": answer["channel"], "ts": answer["ts"]}
        self.client.chat_update(channel=request.channel, ts=request.message_ts, text=card["text"],
                                blocks=card["blocks"])
        self._queue_csv(view)
        return {"channel": request.channel, "ts": request.message_ts}

    def _queue_csv(self, view: Any) -> None:
        """Queue the CSV of each bulk step too long for the card (once per step: the dedupe key)."""
        for step_id, mailboxes in sorted(view.mailboxes.items()):
            if needs_csv(mailboxes):
                self.outbox.enqueue("bulk_csv", {"request_id": view.request.id, "step_id": step_id},
                                    dedupe_key=f"bulk_csv:{view.request.id}:{step_id}")

    def send_csv(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Upload a bulk step's mailboxes as a CSV in its card's thread (after the card is posted)."""
        view = self.workflow.find(str(payload["request_id"]))
        if view is None:
            return None
        request, step_id = view.request, int(payload["step_id"])
        thread = request.thread
        if thread is None:
            raise RetryLater("the card is not posted yet", after=1.0)
        mailboxes = view.mailboxes.get(step_id) or []
        step = next((s for s in view.steps if s.id == step_id), None)
        position = step.position + 1 if step else step_id
        self.client.files_upload_v2(channel=request.channel, thread_ts=thread, content=mailboxes_csv(mailboxes).encode(),
                                    filename=f"smtp-auth-cleanup-{request.id}-step{position}.csv",
                                    title=f"{request.upn}: step {position}, {len(mailboxes)} mailboxes")
        return {"channel": request.channel, "thread_ts": thread}

    def find_posted(self, request_id: str, channel: str, since: datetime, thread_ts: str | None = None) -> str | None:
        """The ts of the bot's own card for `request_id` in `channel` (in `thread_ts`, else posted after `since`)."""
        oldest = f"{(since - LOOKUP_SKEW).timestamp():.6f}"
        return self.own.find(channel, CARD_EVENT, lambda payload: payload.get("request_id") == request_id,
                             thread_ts=thread_ts, oldest=oldest)
