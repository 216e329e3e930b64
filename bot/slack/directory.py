"""Slack user-group membership (`usergroups.users.list`), cached for seconds: approvers may be a group."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.clock import SYSTEM_CLOCK, Clock
from bot.errors import GroupUnreadable

#: How long a group's member list is trusted: a removed approver can approve for at most this long.
MEMBERS_TTL = timedelta(seconds=10)


class UserGroups:
    """Members of Slack user groups, read at decision time. Fails closed: an unreadable group raises."""

    def __init__(self, client: WebClient, *, ttl: timedelta = MEMBERS_TTL, clock: Clock = SYSTEM_CLOCK):
        self.client = client
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[datetime, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def members(self, group: str) -> frozenset[str]:
        """The group's members; GroupUnreadable when Slack will not list them (never an older list)."""
        now = self.clock.now()
        with self._lock:
            cached = self._cache.get(group)
        if cached and now - cached[0] < self.ttl:
            return cached[1]
        try:
            users = frozenset(self.client.usergroups_users_list(usergroup=group).get("users") or [])
        except SlackApiError as exc:
            raise GroupUnreadable(group, str(exc.response.get("error") or exc.response.status_code)) from None
        except (SlackClientError, OSError) as exc:
            raise GroupUnreadable(group, f"nothing ({type(exc).__name__})") from None
        with self._lock:
            self._cache[group] = (now, users)
        return users
