"""Find a message the bot itself posted, by its metadata: in a channel's recent history or in one thread.

The cards and notices senders use it after an attempt that may have reached Slack (a crash, a timeout), so a
retry adopts the message instead of posting it twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

#: Pages read when looking a message up (newest first in a channel, oldest first in a thread), PAGE each.
PAGES = 5
PAGE = 200


class OwnMessages:
    """Looks up the bot's own messages; learns the bot's id once (`auth.test`)."""

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._bot_id: str | None = None

    def find(self, channel: str, event_type: str, match: Callable[[dict[str, Any]], bool], *,
             thread_ts: str | None = None, oldest: str | None = None) -> str | None:
        """The ts of the bot's message in `channel` (in the thread `thread_ts`, else top level from `oldest` on)
        whose metadata has `event_type` and a payload `match` accepts; None when there is none or it cannot be
        read (an install without the history scopes: posting again beats never posting)."""
        if self._bot_id is None:
            self._bot_id = str(self.client.auth_test()["bot_id"])
        cursor = None
        for _ in range(PAGES):
            try:
                if thread_ts:
                    answer = self.client.conversations_replies(channel=channel, ts=thread_ts, limit=PAGE,
                                                               include_all_metadata=True, cursor=cursor)
                else:
                    answer = self.client.conversations_history(channel=channel, oldest=oldest, limit=PAGE,
                                                               include_all_metadata=True, cursor=cursor)
            except SlackApiError as exc:
                error = exc.response.get("error") if exc.response is not None else None
                if error not in ("missing_scope", "thread_not_found"):
                    raise
                log.warning("cannot look for an earlier %s in %s (%s): posting it again", event_type, channel,
                            exc.response.get("needed") or error)
                return None
            for message in answer.get("messages") or []:
                metadata = message.get("metadata") or {}
                if (message.get("bot_id") == self._bot_id and metadata.get("event_type") == event_type
                        and match(metadata.get("event_payload") or {})):
                    return str(message["ts"])
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not answer.get("has_more") or not cursor:
                return None
        return None
