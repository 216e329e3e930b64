"""What the Slack stand-in keeps and answers: errors, calls, messages and versions, files, responses."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.slack.identity import APP_ID, BOT_ID, TEAM_ID


class SlackError(Exception):
    """An `ok: false` answer: `error` is Slack's error code, `extra` more top-level fields."""

    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


@dataclass(frozen=True)
class SlackCall:
    """One request to the stand-in, never with its token. `status` is 0 when a fault dropped the connection."""

    method: str
    args: dict[str, Any]
    status: int
    ok: bool
    error: str | None
    timestamp: datetime
    fault: str | None = None


@dataclass(frozen=True)
class MessageVersion:
    """A message's text and blocks as set by one call (`via`: the method, or `response_url`)."""

    text: str
    blocks: list[dict[str, Any]]
    at: datetime
    via: str


@dataclass(frozen=True)
class SlackMessage:
    """A channel message or (with `visible_to`) an ephemeral one; `versions` holds every edit, oldest first."""

    channel: str
    ts: str
    user: str
    versions: tuple[MessageVersion, ...]
    thread_ts: str | None = None
    visible_to: str | None = None
    deleted: bool = False
    metadata: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return self.versions[-1].text

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return self.versions[-1].blocks

    def payload(self, *, metadata: bool = False) -> dict[str, Any]:
        """The message as Slack shows it in API answers and interaction payloads (`metadata`: with its metadata,
        as `conversations.history` shows it with `include_all_metadata`)."""
        message: dict[str, Any] = {
            "type": "message",
            "user": self.user,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "text": self.text,
            "ts": self.ts,
            "team": TEAM_ID,
        }
        if self.blocks:
            message["blocks"] = copy.deepcopy(self.blocks)
        if self.thread_ts:
            message["thread_ts"] = self.thread_ts
        if len(self.versions) > 1:
            message["edited"] = {"user": self.user, "ts": f"{self.versions[-1].at.timestamp():.6f}"}
        if metadata and self.metadata is not None:
            message["metadata"] = copy.deepcopy(self.metadata)
        return message


@dataclass(frozen=True)
class SlackFile:
    """A file uploaded through `files.getUploadURLExternal`, the upload URL and `files.completeUploadExternal`."""

    id: str
    filename: str
    length: int
    data: bytes | None = None
    title: str | None = None
    channels: tuple[str, ...] = ()
    initial_comment: str | None = None
    thread_ts: str | None = None
    completed: bool = False


@dataclass(frozen=True)
class ResponsePost:
    """One POST to a response URL: its JSON payload, what it did (`replaced`, `deleted`, `posted`,
    `ephemeral`, or an error code) and to which message."""

    response_id: str
    payload: dict[str, Any]
    status: int
    effect: str
    channel: str
    ts: str | None
    user: str
    at: datetime


@dataclass
class ResponseUrl:
    channel: str
    user: str
    message_ts: str | None
    ephemeral: bool
    created: datetime
    uses: int = 0


@dataclass
class StoredMessage:
    channel: str
    ts: str
    user: str
    versions: list[MessageVersion]
    thread_ts: str | None = None
    visible_to: str | None = None
    deleted: bool = False
    metadata: dict[str, Any] | None = None

    def snapshot(self) -> SlackMessage:
        return SlackMessage(
            self.channel,
            self.ts,
            self.user,
            tuple(copy.deepcopy(self.versions)),
            self.thread_ts,
            self.visible_to,
            self.deleted,
            copy.deepcopy(self.metadata),
        )
