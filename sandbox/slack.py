"""A stateful local stand-in for the Slack Web API, upload URLs and response URLs, for slack_sdk's WebClient."""

from __future__ import annotations

import copy
import fnmatch
import json
import logging
import secrets
import socket
import string
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from bot.clock import SYSTEM_CLOCK, Clock
from sandbox.faults import RuleBook
from sandbox.server import QuietHandler

log = logging.getLogger(__name__)

TEAM_ID = "T0SANDBOX"
TEAM_DOMAIN = "sandbox"
TEAM_NAME = "Sandbox"
APP_ID = "A0SMTPBOT"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
BOT_NAME = "smtp-auth-bot"

SEED_CHANNELS: dict[str, str] = {"C0OPS": "smtp-ops", "C0ALERTS": "mail-alerts"}
SEED_USERS: dict[str, tuple[str, str, str]] = {
    "U0REQUEST": ("riley", "Riley Requester", "Europe/London"),
    "U0APPROVE": ("avery", "Avery Approver", "America/New_York"),
    "U0RANDOM": ("sam", "Sam Bystander", "Europe/Berlin"),
    "U0INGROUP": ("gale", "Gale Groupmember", "Asia/Tokyo"),
}
SEED_USERGROUPS: dict[str, list[str]] = {"S0ADMINS": ["U0INGROUP"]}
#: The bot token's scopes reported in `X-OAuth-Scopes`, as Slack does: by default the manifest's.
BOT_SCOPES = ("commands", "chat:write", "usergroups:read", "files:write")

FAULT_KINDS = ("ratelimited", "status", "latency", "drop", "error")
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT = 40_000
MAX_BLOCK_CHARS = 13_000  # approximate: Slack answers msg_blocks_too_long from about this much block text
RESPONSE_URL_USES = 5
RESPONSE_URL_LIFETIME = timedelta(minutes=30)
BLOCK_TYPES = frozenset(
    {
        "section",
        "header",
        "actions",
        "context",
        "divider",
        "image",
        "input",
        "rich_text",
        "file",
        "video",
        "markdown",
    }
)
_ID_CHARS = string.ascii_letters + string.digits


class SlackError(Exception):
    """An `ok: false` answer: `error` is Slack's error code, `extra` more top-level fields."""

    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


# --- Block Kit validation -------------------------------------------------------------------------------


def block_errors(blocks: Any, *, max_blocks: int = MAX_MESSAGE_BLOCKS, pointer: str = "/blocks") -> list[str]:
    """Slack-style error strings for the Block Kit limits this stand-in checks; empty when the blocks pass."""
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{pointer}]"]
    errors: list[str] = []
    if len(blocks) > max_blocks:
        errors.append(f"no more than {max_blocks} items allowed [json-pointer:{pointer}]")
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"{pointer}/{index}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(f"missing required field: type [json-pointer:{where}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            _limit(errors, block_id, 255, f"{where}/block_id")
            if block_id in block_ids:
                errors.append(f"duplicate block_id {block_id!r} [json-pointer:{where}/block_id]")
            block_ids.add(block_id)
        errors.extend(_block_type_errors(block, where))
    return errors


def _block_type_errors(block: dict[str, Any], where: str) -> list[str]:
    errors: list[str] = []
    kind = block["type"]
    if kind not in BLOCK_TYPES:
        errors.append(f"unsupported block type {kind!r} [json-pointer:{where}/type]")
    elif kind == "section":
        if block.get("text") is None and not block.get("fields"):
            errors.append(f"must provide either text or fields [json-pointer:{where}]")
        if block.get("text") is not None:
            _text(errors, block["text"], 3000, f"{where}/text")
        fields = block.get("fields") or []
        if len(fields) > 10:
            errors.append(f"no more than 10 items allowed [json-pointer:{where}/fields]")
        for i, item in enumerate(fields):
            _text(errors, item, 2000, f"{where}/fields/{i}")
        if block.get("accessory") is not None:
            _element(errors, block["accessory"], f"{where}/accessory")
    elif kind == "header":
        _text(errors, block.get("text"), 150, f"{where}/text", plain_only=True)
    elif kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            errors.append(f"must provide at least 1 element [json-pointer:{where}/elements]")
            return errors
        if len(elements) > 25:
            errors.append(f"no more than 25 items allowed [json-pointer:{where}/elements]")
        action_ids: set[str] = set()
        for i, element in enumerate(elements):
            _element(errors, element, f"{where}/elements/{i}")
            action_id = element.get("action_id") if isinstance(element, dict) else None
            if action_id is not None and action_id in action_ids:
                errors.append(f"duplicate action_id {action_id!r} [json-pointer:{where}/elements/{i}]")
            action_ids.add(action_id)
    elif kind == "context" and len(block.get("elements") or []) > 10:
        errors.append(f"no more than 10 items allowed [json-pointer:{where}/elements]")
    return errors


def _element(errors: list[str], element: Any, where: str) -> None:
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        errors.append(f"missing required field: type [json-pointer:{where}]")
        return
    if element.get("action_id") is not None:
        _limit(errors, element["action_id"], 255, f"{where}/action_id")
    if element["type"] != "button":
        return
    _text(errors, element.get("text"), 75, f"{where}/text", plain_only=True)
    if element.get("value") is not None:
        _limit(errors, element["value"], 2000, f"{where}/value")
    if element.get("url") is not None:
        _limit(errors, element["url"], 3000, f"{where}/url")
    if element.get("style") not in (None, "primary", "danger"):
        errors.append(f"must be one of primary, danger [json-pointer:{where}/style]")
    confirm = element.get("confirm")
    if confirm is not None:
        if not isinstance(confirm, dict):
            errors.append(f"must be an object [json-pointer:{where}/confirm]")
            return
        for key, limit in (("title", 100), ("text", 300), ("confirm", 30), ("deny", 30)):
            _text(errors, confirm.get(key), limit, f"{where}/confirm/{key}", plain_only=key != "text")


def _text(errors: list[str], obj: Any, limit: int, where: str, *, plain_only: bool = False) -> None:
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if not isinstance(obj, dict) or obj.get("type") not in allowed:
        errors.append(f"must be a text object of type {' or '.join(allowed)} [json-pointer:{where}]")
    elif not isinstance(obj.get("text"), str) or not obj["text"]:
        errors.append(f"must be a non-empty string [json-pointer:{where}/text]")
    else:
        _limit(errors, obj["text"], limit, f"{where}/text")


def _limit(errors: list[str], value: Any, limit: int, where: str) -> None:
    if not isinstance(value, str):
        errors.append(f"must be a string [json-pointer:{where}]")
    elif len(value) > limit:
        errors.append(f"must be less than {limit + 1} characters [json-pointer:{where}]")


def _text_chars(node: Any) -> int:
    """All the text in some blocks: every `text` string, added up."""
    if isinstance(node, dict):
        return sum(len(v) if k == "text" and isinstance(v, str) else _text_chars(v) for k, v in node.items())
    if isinstance(node, list):
        return sum(_text_chars(item) for item in node)
    return 0


def _with_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy in which every block has a block_id and every interactive element an action_id, as Slack does."""
    blocks = copy.deepcopy(blocks)
    for block in blocks:
        block.setdefault("block_id", _random_id())
        elements = block.get("elements", []) if block["type"] == "actions" else [block.get("accessory")]
        for element in elements:
            if isinstance(element, dict) and element.get("type") not in ("image", None):
                element.setdefault("action_id", _random_id())
    return blocks


def _random_id() -> str:
    return "".join(secrets.choice(_ID_CHARS) for _ in range(5))


# --- Faults ---------------------------------------------------------------------------------------------


@dataclass
class SlackFaultRule:
    """Which calls it hits and what it does.

    `method` is an fnmatch pattern on the method name (`chat.postMessage`, `chat.*`; `response_url` and
    `upload_url` for those endpoints; None: every call). `times` is how many calls it fires for (None:
    always). Kinds: `ratelimited` (HTTP 429, `Retry-After: retry_after`, error `ratelimited`), `status`
    (HTTP `status` with error `error` or `internal_error`), `latency` (sleep `seconds`, then answer
    normally), `drop` (close the connection without an answer) and `error` (HTTP 200, `ok: false`, `error`).
    """

    kind: str
    method: str | None = None
    times: int | None = 1
    retry_after: str = "1"
    status: int = 503
    error: str | None = None
    seconds: float = 0.0
    id: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}, not {self.kind!r}")
        if self.kind == "error" and not self.error:
            raise ValueError("an 'error' fault needs error='<slack error code>'")
        self.retry_after = str(self.retry_after)

    def matches(self, method: str) -> bool:
        return (self.times is None or self.fired < self.times) and (
            self.method is None or fnmatch.fnmatchcase(method, self.method)
        )


class SlackFaults(RuleBook[SlackFaultRule]):
    """The active fault rules. Safe to use from several threads."""

    def add(self, kind: str, **match: Any) -> SlackFaultRule:
        """Add a rule, e.g. `add(method="chat.postMessage", kind="ratelimited", retry_after="1", times=1)`."""
        return self._add(SlackFaultRule(kind, **match))

    def take(self, method: str) -> SlackFaultRule | None:
        """The first rule matching this call, counted as fired; None when no rule matches."""
        with self._lock:
            return self._fire(lambda r: r.matches(method))


# --- Records --------------------------------------------------------------------------------------------


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

    @property
    def text(self) -> str:
        return self.versions[-1].text

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return self.versions[-1].blocks

    def payload(self) -> dict[str, Any]:
        """The message as Slack shows it in API answers and interaction payloads."""
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
class _ResponseUrl:
    channel: str
    user: str
    message_ts: str | None
    ephemeral: bool
    created: datetime
    uses: int = 0


@dataclass
class _Stored:
    channel: str
    ts: str
    user: str
    versions: list[MessageVersion]
    thread_ts: str | None = None
    visible_to: str | None = None
    deleted: bool = False

    def snapshot(self) -> SlackMessage:
        return SlackMessage(
            self.channel,
            self.ts,
            self.user,
            tuple(copy.deepcopy(self.versions)),
            self.thread_ts,
            self.visible_to,
            self.deleted,
        )


# --- The workspace: state and the Web API methods ---------------------------------------------------------


class _Workspace:
    """All state, guarded by `lock`; `methods` maps each Web API method to its handler."""

    def __init__(self, clock: Clock, base_url: Callable[[], str], scopes: Iterable[str]) -> None:
        self.clock = clock
        self.base_url = base_url
        self.default_scopes = tuple(scopes)
        self.lock = threading.RLock()
        self.methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self.auth_test,
            "chat.postMessage": self.post_message,
            "chat.update": self.update,
            "chat.postEphemeral": self.post_ephemeral,
            "chat.getPermalink": self.get_permalink,
            "views.publish": self.views_publish,
            "usergroups.users.list": self.usergroup_users,
            "users.info": self.users_info,
            "conversations.info": self.conversations_info,
            "files.getUploadURLExternal": self.get_upload_url,
            "files.completeUploadExternal": self.complete_upload,
        }
        self.reset()

    def reset(self) -> None:
        self.scopes: tuple[str, ...] = self.default_scopes
        self.channels: dict[str, dict[str, Any]] = {
            cid: _channel_info(cid, name) for cid, name in SEED_CHANNELS.items()
        }
        self.users: dict[str, dict[str, Any]] = {
            uid: _user_info(uid, *info) for uid, info in SEED_USERS.items()
        }
        self.usergroups: dict[str, list[str]] = copy.deepcopy(SEED_USERGROUPS)
        self.messages: dict[str, dict[str, _Stored]] = {}
        self.ephemerals: list[_Stored] = []
        self.homes: dict[str, dict[str, Any]] = {}
        self.files: dict[str, SlackFile] = {}
        self.response_urls: dict[str, _ResponseUrl] = {}
        self.responses: list[ResponsePost] = []
        self.calls: list[SlackCall] = []
        self.last_ts = 0
        self.serial = 0

    # helpers

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
            self.channels.setdefault(dm, {**_channel_info(dm, None), "is_im": True, "user": channel})
            return dm
        name = channel.removeprefix("#")
        found = next((cid for cid, info in self.channels.items() if info.get("name") == name), None)
        if found is None:
            raise SlackError("channel_not_found")
        return found

    def stored(self, channel: str, ts: Any) -> _Stored:
        message = self.messages.get(channel, {}).get(ts) if isinstance(ts, str) else None
        if message is None or message.deleted:
            raise SlackError("message_not_found")
        return message

    def content(self, args: dict[str, Any]) -> tuple[str, list[dict[str, Any]] | None]:
        """Text and (validated, id-stamped) blocks of a message; blocks None when the call gave none."""
        text = args.get("text") or ""
        blocks = _json_arg(args, "blocks")
        if not isinstance(text, str):
            raise SlackError("invalid_arguments", errors=["text must be a string"])
        if len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        if blocks is not None:
            errors = block_errors(blocks)
            if errors:
                raise SlackError("invalid_blocks", errors=errors, response_metadata=_messages(errors))
            if _text_chars(blocks) > MAX_BLOCK_CHARS:
                raise SlackError("msg_blocks_too_long")
            blocks = _with_ids(blocks)
        if not text and not blocks and not _json_arg(args, "attachments"):
            raise SlackError("no_text")
        return text, blocks

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]], via: str, **extra: Any) -> _Stored:
        ts = self.next_ts()
        message = _Stored(
            channel, ts, BOT_USER_ID, [MessageVersion(text, blocks, self.clock.now(), via)], **extra
        )
        if message.visible_to is None:
            self.messages.setdefault(channel, {})[ts] = message
        else:
            self.ephemerals.append(message)
        return message

    def edit(self, message: _Stored, text: str, blocks: list[dict[str, Any]], via: str) -> None:
        message.versions.append(MessageVersion(text, blocks, self.clock.now(), via))

    # Web API methods

    def auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "user": BOT_NAME,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.resolve_channel(args.get("channel"))
        text, blocks = self.content(args)
        thread_ts = args.get("thread_ts") or None
        message = self.post(channel, text, blocks or [], "chat.postMessage", thread_ts=thread_ts)
        return {"ok": True, "channel": channel, "ts": message.ts, "message": message.snapshot().payload()}

    def update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.resolve_channel(args.get("channel"))
        message = self.stored(channel, args.get("ts"))
        text, blocks = self.content(args)
        self.edit(message, text, message.versions[-1].blocks if blocks is None else blocks, "chat.update")
        return {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "text": text,
            "message": message.snapshot().payload(),
        }

    def post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.resolve_channel(args.get("channel"))
        user = args.get("user")
        if not user:
            raise SlackError("invalid_arguments", errors=["missing required field: user"])
        if user not in self.users:
            raise SlackError("user_not_in_channel")
        text, blocks = self.content(args)
        message = self.post(
            channel,
            text,
            blocks or [],
            "chat.postEphemeral",
            visible_to=user,
            thread_ts=args.get("thread_ts"),
        )
        return {"ok": True, "message_ts": message.ts}

    def get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.resolve_channel(args.get("channel"))
        message = self.stored(channel, args.get("message_ts"))
        return {"ok": True, "channel": channel, "permalink": _permalink(channel, message.ts)}

    def views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user, view = args.get("user_id"), _json_arg(args, "view")
        if not user or not isinstance(view, dict):
            raise SlackError("invalid_arguments", errors=["user_id and view are required"])
        if user not in self.users:
            raise SlackError("user_not_found")
        errors = [] if view.get("type") == "home" else ["must be 'home' [json-pointer:/view/type]"]
        errors += block_errors(view.get("blocks"), max_blocks=MAX_VIEW_BLOCKS, pointer="/view/blocks")
        if errors:
            raise SlackError("invalid_arguments", errors=errors, response_metadata=_messages(errors))
        previous = self.homes.get(user)
        published = {
            "id": previous["id"] if previous else self.next_id("V"),
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "type": "home",
            "blocks": _with_ids(view["blocks"]),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "hash": secrets.token_hex(8),
        }
        self.homes[user] = published
        return {"ok": True, "view": copy.deepcopy(published)}

    def usergroup_users(self, args: dict[str, Any]) -> dict[str, Any]:
        group = args.get("usergroup")
        if not group:
            raise SlackError("invalid_arguments", errors=["missing required field: usergroup"])
        if group not in self.usergroups:
            raise SlackError("no_such_subteam")
        return {"ok": True, "users": list(self.usergroups[group])}

    def users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = args.get("user")
        if not user:
            raise SlackError("invalid_arguments", errors=["missing required field: user"])
        if user not in self.users:
            raise SlackError("user_not_found")
        return {"ok": True, "user": copy.deepcopy(self.users[user])}

    def conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if channel not in self.channels:
            raise SlackError("channel_not_found")
        return {"ok": True, "channel": copy.deepcopy(self.channels[channel])}

    def get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        filename, length = args.get("filename"), str(args.get("length", ""))
        if not filename or not length.isdigit():
            raise SlackError("invalid_arguments", errors=["filename and length are required"])
        file_id = self.next_id("F")
        self.files[file_id] = SlackFile(file_id, filename, int(length))
        return {"ok": True, "upload_url": f"{self.base_url()}/upload/{file_id}", "file_id": file_id}

    def complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        items = _json_arg(args, "files")
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise SlackError("invalid_arguments", errors=["files must be a non-empty JSON array"])
        wanted = [c for c in [args.get("channel_id"), *str(args.get("channels") or "").split(",")] if c]
        channels = tuple(self.resolve_channel(c) for c in wanted)
        done = []
        for item in items:
            stored = self.files.get(item.get("id", ""))
            if stored is None or stored.data is None:
                raise SlackError("file_not_found")
            done.append(stored)
        answers = []
        for stored in done:
            finished = SlackFile(
                stored.id,
                stored.filename,
                stored.length,
                stored.data,
                next((i.get("title") for i in items if i.get("id") == stored.id), None) or stored.filename,
                channels,
                args.get("initial_comment"),
                args.get("thread_ts"),
                True,
            )
            self.files[stored.id] = finished
            answers.append(_file_info(finished, self.clock.now()))
        return {"ok": True, "files": answers}

    def upload(self, file_id: str, data: bytes) -> tuple[int, str]:
        stored = self.files.get(file_id)
        if stored is None:
            return 404, "file_not_found"
        self.files[file_id] = SlackFile(stored.id, stored.filename, stored.length, data)
        return 200, f"OK - {len(data)}"

    # response URLs

    def new_response_url(self, channel: str, user: str, message_ts: str | None, ephemeral: bool) -> str:
        response_id = f"{len(self.response_urls) + 1}-{secrets.token_urlsafe(8)}"
        self.response_urls[response_id] = _ResponseUrl(channel, user, message_ts, ephemeral, self.clock.now())
        return f"{self.base_url()}/response/{response_id}"

    def respond(self, response_id: str, payload: Any) -> tuple[int, dict[str, Any]]:
        """Apply a response_url POST (replace, delete, post in channel, or ephemeral) like Slack does."""
        target = self.response_urls.get(response_id)
        now = self.clock.now()
        if target is None or now - target.created > RESPONSE_URL_LIFETIME:
            error, status = "expired_url", 404
        elif target.uses >= RESPONSE_URL_USES:
            error, status = "used_url", 404
        elif not isinstance(payload, dict):
            error, status = "invalid_payload", 400
        else:
            target.uses += 1
            try:
                effect, ts = self.apply_response(target, payload)
            except SlackError as exc:
                body = exc.body()
                self.record_response(response_id, payload, 400, exc.error, target, None)
                return 400, body
            self.record_response(response_id, payload, 200, effect, target, ts)
            return 200, {"ok": True}
        if target is not None:
            self.record_response(response_id, payload, status, error, target, None)
        return status, {"ok": False, "error": error}

    def apply_response(self, target: _ResponseUrl, payload: dict[str, Any]) -> tuple[str, str | None]:
        original = self.response_target(target)
        if _flag(payload.get("delete_original")):
            if original is None:
                raise SlackError("message_not_found")
            original.deleted = True
            return "deleted", original.ts
        text, blocks = self.content(payload)
        if _flag(payload.get("replace_original")) and original is not None:
            self.edit(original, text, blocks or [], "response_url")
            return "replaced", original.ts
        in_channel = payload.get("response_type") == "in_channel"
        visible_to = None if in_channel else target.user
        message = self.post(target.channel, text, blocks or [], "response_url", visible_to=visible_to)
        if target.message_ts is None:
            # A command's response URL: later replace_original/delete_original act on this first reply.
            target.message_ts, target.ephemeral = message.ts, not in_channel
        return ("posted" if in_channel else "ephemeral"), message.ts

    def response_target(self, target: _ResponseUrl) -> _Stored | None:
        if target.message_ts is None:
            return None
        if target.ephemeral:
            return next((m for m in self.ephemerals if m.ts == target.message_ts and not m.deleted), None)
        message = self.messages.get(target.channel, {}).get(target.message_ts)
        return None if message is None or message.deleted else message

    def record_response(
        self, response_id: str, payload: Any, status: int, effect: str, target: _ResponseUrl, ts: str | None
    ) -> None:
        self.responses.append(
            ResponsePost(
                response_id,
                copy.deepcopy(payload) if isinstance(payload, dict) else {"raw": payload},
                status,
                effect,
                target.channel,
                ts,
                target.user,
                self.clock.now(),
            )
        )


def _channel_info(channel_id: str, name: str | None) -> dict[str, Any]:
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


def _user_info(user_id: str, name: str, real_name: str, tz: str) -> dict[str, Any]:
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


def _file_info(stored: SlackFile, now: datetime) -> dict[str, Any]:
    return {
        "id": stored.id,
        "created": int(now.timestamp()),
        "timestamp": int(now.timestamp()),
        "name": stored.filename,
        "title": stored.title,
        "mimetype": "",
        "filetype": "",
        "user": BOT_USER_ID,
        "user_team": TEAM_ID,
        "size": len(stored.data or b""),
        "is_external": False,
        "is_public": True,
        "url_private": f"https://files.slack.com/files-pri/{TEAM_ID}-{stored.id}/{stored.filename}",
        "permalink": f"https://{TEAM_DOMAIN}.slack.com/files/{BOT_USER_ID}/{stored.id}/{stored.filename}",
        "channels": list(stored.channels),
    }


def _permalink(channel: str, ts: str) -> str:
    return f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}"


def _messages(errors: Iterable[str]) -> dict[str, list[str]]:
    return {"messages": [f"[ERROR] {e}" for e in errors]}


def _json_arg(args: dict[str, Any], key: str) -> Any:
    """A structured argument: as given in a JSON body, or decoded from its JSON string in a form body."""
    value = args.get(key)
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise SlackError(f"invalid_{key}_format" if key == "blocks" else "invalid_arguments") from None


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("1", "true"))


# --- HTTP -----------------------------------------------------------------------------------------------


class _App:
    """The WSGI app: `/api/<method>`, `/upload/<file id>`, `/response/<id>`."""

    def __init__(self, workspace: _Workspace, faults: SlackFaults, bot_token: str) -> None:
        self.ws = workspace
        self.faults = faults
        self.bot_token = bot_token

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        kind, _, name = request.path.lstrip("/").partition("/")
        method = {"api": name, "upload": "upload_url", "response": "response_url"}.get(kind)
        if method is None or not name or (kind != "api" and request.method != "POST"):
            return _json(404, {"ok": False, "error": "not_found"})
        args = self.args(request, kind, name)
        rule = self.faults.take(method)
        if rule is not None and rule.kind == "latency":
            time.sleep(rule.seconds)
        elif rule is not None:
            return self.fault(request, rule, method, args)
        with self.ws.lock:
            if kind == "upload":
                status, text = self.ws.upload(name, request.get_data())
                self.record(method, args, status, status == 200, None if status == 200 else text, rule)
                return Response(text, status=status, content_type="text/plain; charset=utf-8")
            if kind == "response":
                status, body = self.ws.respond(name, args.get("payload"))
            else:
                status, body = self.api(request, name, args)
            self.record(method, args, status, bool(body.get("ok")), body.get("error"), rule)
            scopes = ",".join(self.ws.scopes)
        response = _json(status, body)
        if kind == "api" and body.get("error") not in ("not_authed", "invalid_auth", "unknown_method"):
            response.headers["X-OAuth-Scopes"] = scopes  # Slack reports the token's scopes on every call
        return response

    def args(self, request: Request, kind: str, name: str) -> dict[str, Any]:
        """The call's arguments without the token: query, form and JSON merged; payload for response URLs."""
        if kind == "upload":
            return {"file_id": name, "length": request.content_length or 0}
        if kind == "response":
            try:
                return {"payload": json.loads(request.get_data() or b"null")}
            except ValueError:
                return {"payload": request.get_data(as_text=True)}
        args: dict[str, Any] = request.args.to_dict()
        if request.mimetype == "application/json":
            try:
                body = json.loads(request.get_data() or b"{}")
            except ValueError:
                body = None
            args.update(body if isinstance(body, dict) else {"_invalid_json": True})
        else:
            args.update(request.form.to_dict())
        return args

    def api(self, request: Request, name: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else args.get("token")
        args.pop("token", None)
        handler = self.ws.methods.get(name)
        try:
            if handler is None:
                raise SlackError("unknown_method")
            if not token:
                raise SlackError("not_authed")
            if not secrets.compare_digest(str(token), self.bot_token):
                raise SlackError("invalid_auth")
            if args.pop("_invalid_json", False):
                raise SlackError("invalid_json")
            return 200, handler(args)
        except SlackError as exc:
            return exc.status, exc.body()

    def fault(self, request: Request, rule: SlackFaultRule, method: str, args: dict[str, Any]) -> Response:
        args.pop("token", None)
        if rule.kind == "drop":
            self.record(method, args, 0, False, None, rule)
            request.environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
            return Response(b"", status=500)
        if rule.kind == "ratelimited":
            self.record(method, args, 429, False, "ratelimited", rule)
            response = _json(429, {"ok": False, "error": "ratelimited"})
            response.headers["Retry-After"] = rule.retry_after
            return response
        status = rule.status if rule.kind == "status" else 200
        error = rule.error or "internal_error"
        self.record(method, args, status, False, error, rule)
        return _json(status, {"ok": False, "error": error})

    def record(
        self,
        method: str,
        args: dict[str, Any],
        status: int,
        ok: bool,
        error: str | None,
        rule: SlackFaultRule | None,
    ) -> None:
        with self.ws.lock:
            self.ws.calls.append(
                SlackCall(
                    method,
                    copy.deepcopy(args),
                    status,
                    ok,
                    error,
                    self.ws.clock.now(),
                    rule.kind if rule else None,
                )
            )


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json; charset=utf-8")


# --- The running stand-in -------------------------------------------------------------------------------


class SlackStandin:
    """The Slack Web API stand-in served over plain HTTP by werkzeug in a daemon thread, with query helpers.

    Point slack_sdk at it with `WebClient(token=bot_token, base_url=standin.api_url)`.
    """

    def __init__(
        self,
        *,
        bot_token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        scopes: Iterable[str] = BOT_SCOPES,
    ):
        self.faults = SlackFaults()
        self._ws = _Workspace(clock or SYSTEM_CLOCK, lambda: self.url, scopes)
        self._server = make_server(
            host, port, _App(self._ws, self.faults, bot_token), threaded=True, request_handler=QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="slack-standin",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """`http://HOST:PORT`, the base of the upload and response URLs."""
        return f"http://{self._server.host}:{self._server.server_port}"

    @property
    def api_url(self) -> str:
        """`http://HOST:PORT/api/`: slack_sdk's `base_url`."""
        return f"{self.url}/api/"

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> SlackStandin:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # configuration

    def reset(self) -> None:
        """The seeded workspace, default scopes; no messages, views, files, responses, calls or faults."""
        self.faults.clear()
        with self._ws.lock:
            self._ws.reset()

    def set_scopes(self, scopes: Iterable[str]) -> None:
        """The bot token's scopes from now on, as `X-OAuth-Scopes` reports them (until `reset`)."""
        with self._ws.lock:
            self._ws.scopes = tuple(scopes)

    def set_usergroup(self, usergroup: str, users: list[str]) -> None:
        with self._ws.lock:
            self._ws.usergroups[usergroup] = list(users)

    def add_user(self, user_id: str, name: str, real_name: str, tz: str = "UTC") -> None:
        with self._ws.lock:
            self._ws.users[user_id] = _user_info(user_id, name, real_name, tz)

    def add_channel(self, channel_id: str, name: str) -> None:
        with self._ws.lock:
            self._ws.channels[channel_id] = _channel_info(channel_id, name)

    def new_response_url(
        self, *, channel: str, user: str, message_ts: str | None = None, ephemeral: bool = False
    ) -> str:
        """A fresh response URL for an interaction by `user` in `channel` (on message `message_ts`, if any)."""
        with self._ws.lock:
            return self._ws.new_response_url(channel, user, message_ts, ephemeral)

    # queries

    def messages(self, channel: str) -> list[SlackMessage]:
        """The channel's messages that are not deleted, oldest first (thread replies included)."""
        with self._ws.lock:
            stored = self._ws.messages.get(channel, {}).values()
            return [m.snapshot() for m in stored if not m.deleted]

    def message(self, channel: str, ts: str) -> SlackMessage:
        """One message, deleted or not; KeyError when the stand-in never had it."""
        with self._ws.lock:
            return self._ws.messages[channel][ts].snapshot()

    def ephemerals(self, user: str | None = None) -> list[SlackMessage]:
        with self._ws.lock:
            return [
                m.snapshot() for m in self._ws.ephemerals if not m.deleted and user in (None, m.visible_to)
            ]

    def home(self, user: str) -> dict[str, Any] | None:
        """The App Home view last published for `user`."""
        with self._ws.lock:
            view = self._ws.homes.get(user)
            return copy.deepcopy(view) if view else None

    def files(self) -> list[SlackFile]:
        with self._ws.lock:
            return list(self._ws.files.values())

    def responses(self) -> list[ResponsePost]:
        with self._ws.lock:
            return list(self._ws.responses)

    def calls(self, method: str | None = None) -> list[SlackCall]:
        with self._ws.lock:
            return [c for c in self._ws.calls if method in (None, c.method)]

    def user_name(self, user_id: str) -> str:
        with self._ws.lock:
            info = self._ws.users.get(user_id)
            return info["name"] if info else user_id.lower()

    def channel_name(self, channel_id: str) -> str:
        with self._ws.lock:
            info = self._ws.channels.get(channel_id)
            return (info or {}).get("name") or ("directmessage" if channel_id.startswith("D") else channel_id)


def start_slack_standin(
    *,
    bot_token: str,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Clock | None = None,
    scopes: Iterable[str] = BOT_SCOPES,
) -> SlackStandin:
    """A Slack Web API stand-in accepting `bot_token` with `scopes`, serving on `host:port` (0: any port)."""
    return SlackStandin(bot_token=bot_token, host=host, port=port, clock=clock, scopes=scopes)
