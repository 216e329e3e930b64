"""The Slack stand-in's state: channels, people, user groups, messages, views, files, response URLs, calls."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import Clock
from sandbox.slack.identity import BOT_USER_ID, SEED_CHANNELS, SEED_USERGROUPS, SEED_USERS, TEAM_ID
from sandbox.slack.records import (
    MessageVersion,
    ResponsePost,
    ResponseUrl,
    SlackCall,
    SlackError,
    SlackFile,
    StoredMessage,
)


class Workspace:
    """All state of the stand-in workspace, guarded by `lock`."""

    def __init__(self, clock: Clock, base_url: Callable[[], str], scopes: Iterable[str]) -> None:
        self.clock = clock
        self.base_url = base_url
        self.default_scopes = tuple(scopes)
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        self.scopes: tuple[str, ...] = self.default_scopes
        self.channels: dict[str, dict[str, Any]] = {
            cid: channel_info(cid, name) for cid, name in SEED_CHANNELS.items()
        }
        self.users: dict[str, dict[str, Any]] = {
            uid: user_info(uid, *info) for uid, info in SEED_USERS.items()
        }
        self.usergroups: dict[str, list[str]] = copy.deepcopy(SEED_USERGROUPS)
        self.messages: dict[str, dict[str, StoredMessage]] = {}
        self.ephemerals: list[StoredMessage] = []
        self.homes: dict[str, dict[str, Any]] = {}
        self.files: dict[str, SlackFile] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.responses: list[ResponsePost] = []
        self.calls: list[SlackCall] = []
        self.last_ts = 0
        self.serial = 0

    def next_ts(self) -> str:
        """A unique, increasing message timestamp such as `1764320000.000100`."""
        micros = int(self.clock.now().timestamp() * 1_000_000)
        self.last_ts = max(micros, self.last_ts + 100)
        return f"{self.last_ts // 1_000_000}.{self.last_ts % 1_000_000:06d}"

    def next_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}0SBX{self.serial:05d}"

    def resolve_channel(self, channel: Any) -> str:
        """A channel id from an id, `#name`, `name` or a user id (a DM), else `channel_not_found`."""
        if not isinstance(channel, str) or not channel:
            raise SlackError("channel_not_found")
        if channel in self.channels:
            return channel
        if channel in self.users:
            dm = "D" + channel[1:]
            self.channels.setdefault(dm, {**channel_info(dm, None), "is_im": True, "user": channel})
            return dm
        name = channel.removeprefix("#")
        found = next((cid for cid, info in self.channels.items() if info.get("name") == name), None)
        if found is None:
            raise SlackError("channel_not_found")
        return found

    def stored(self, channel: str, ts: Any) -> StoredMessage:
        message = self.messages.get(channel, {}).get(ts) if isinstance(ts, str) else None
        if message is None or message.deleted:
            raise SlackError("message_not_found")
        return message

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]], via: str, **extra: Any) -> StoredMessage:
        ts = self.next_ts()
        message = StoredMessage(
            channel, ts, BOT_USER_ID, [MessageVersion(text, blocks, self.clock.now(), via)], **extra
        )
        if message.visible_to is None:
            self.messages.setdefault(channel, {})[ts] = message
        else:
            self.ephemerals.append(message)
        return message

    def edit(self, message: StoredMessage, text: str, blocks: list[dict[str, Any]], via: str) -> None:
        message.versions.append(MessageVersion(text, blocks, self.clock.now(), via))


def channel_info(channel_id: str, name: str | None) -> dict[str, Any]:
    return {
        "id": channel_id,
        "name": name,
        "is_channel": name is not None,
        "is_group": False,
        "is_im": False,
        "is_private": False,
        "is_archived": False,
        "is_general": False,
        "is_member": True,
        "created": 1700000000,
        "creator": "U0APPROVE",
        "context_team_id": TEAM_ID,
    }


def user_info(user_id: str, name: str, real_name: str, tz: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "team_id": TEAM_ID,
        "name": name,
        "deleted": False,
        "real_name": real_name,
        "tz": tz,
        "tz_label": tz,
        "tz_offset": int(datetime.now(ZoneInfo(tz)).utcoffset().total_seconds()),
        "is_admin": False,
        "is_owner": False,
        "is_bot": False,
        "is_app_user": False,
        "profile": {
            "real_name": real_name,
            "display_name": name,
            "real_name_normalized": real_name,
            "display_name_normalized": name,
            "team": TEAM_ID,
        },
    }
