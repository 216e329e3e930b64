"""Slack user-group membership (`usergroups.users.list`), cached briefly: approvers may be a group."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)


class UserGroups:
    def __init__(self, client: WebClient, *, ttl: timedelta = timedelta(minutes=5), clock: Clock = SYSTEM_CLOCK):
        self.client = client
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[object, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def members(self, group: str) -> frozenset[str]:
        now = self.clock.now()
        with self._lock:
            cached = self._cache.get(group)
        if cached and now - cached[0] < self.ttl:  # type: ignore[operator]
            return cached[1]
        try:
            users = frozenset(self.client.usergroups_users_list(usergroup=group).get("users") or [])
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("cannot list members of user group %s: %s", group, exc)
            return cached[1] if cached else frozenset()  # a stale list beats locking every approver out
        with self._lock:
            self._cache[group] = (now, users)
        return users
