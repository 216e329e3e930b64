"""The outbox's sender for kind `notice`: tell the requester, in the card's thread, what happened to a step.

The store queues one notice in the same transaction as the step transition that causes it (`NOTICES` in the
workflow's model), under a key unique to that transition, so each outcome is told once whoever caused it (a
click, the execution, the expiry sweep, start-up recovery). Posting is idempotent like the card's: a
`notice-post:{key}` lease row marks an attempt, and a retry after one first looks for the bot's own reply with
that key in the thread's metadata (conversations.replies) and adopts it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient

from bot.clock import SYSTEM_CLOCK, Clock
from bot.errors import RetryLater
from bot.slack.blocks.mrkdwn import code
from bot.slack.blocks.notices import notice_message
from bot.slack.cards import Leases
from bot.slack.lookup import OwnMessages
from bot.slack.outbox import Outbox
from bot.workflow.model import NOTICE_KIND, NoticeKind, command_for
from bot.workflow.service import Workflow

#: The metadata event type of every notice, with `{"key": <the outbox dedupe key>}` as its payload.
NOTICE_EVENT = "smtp_auth_notice"
POST_LEASE = timedelta(seconds=30)
#: How long a notice waits for its card to be posted before the outbox asks again.
CARD_WAIT = 15.0


class Notices:
    def __init__(self, workflow: Workflow, client: WebClient, outbox: Outbox, leases: Leases, *,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.workflow = workflow
        self.client = client
        self.leases = leases
        self.clock = clock
        self.holder = uuid.uuid4().hex
        self.own = OwnMessages(client)
        outbox.register(NOTICE_KIND, self.send)

    def send(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        view = self.workflow.find(str(payload["request_id"]))
        if view is None:
            return None
        request = view.request
        thread = request.thread
        if thread is None:  # the card is not posted yet (an outage): the notice follows it into its thread
            raise RetryLater(f"the card of {request.id} is not posted yet", after=CARD_WAIT)
        key = str(payload["key"])
        name = f"notice-post:{key}"
        attempted = self.leases.expires_at(name) is not None
        if not self.leases.acquire(name, self.holder, POST_LEASE):
            raise RetryLater("another process is posting this notice", after=1.0)
        if attempted:
            ts = self.own.find(request.channel, NOTICE_EVENT, lambda found: found.get("key") == key, thread_ts=thread)
            if ts is not None:
                return {"channel": request.channel, "ts": ts}
        message = notice_message(
            NoticeKind(payload["notice"]), requester=request.requester, request_id=request.id, upn=request.upn,
            title=str(payload.get("title") or "A step"), actor=payload.get("actor"),
            at=datetime.fromisoformat(payload["at"]), error=payload.get("error"),
            undo_requested_by=payload.get("undo_requested_by"), approvals=int(payload.get("approvals") or 1),
            needed=int(payload.get("needed") or 2), undo_decided_by=payload.get("undo_decided_by"),
            again=command_for(request, code))
        answer = self.client.chat_postMessage(channel=request.channel, thread_ts=thread, text=message["text"],
                                              blocks=message["blocks"],
                                              metadata={"event_type": NOTICE_EVENT, "event_payload": {"key": key}})
        return {"channel": answer["channel"], "ts": answer["ts"]}
