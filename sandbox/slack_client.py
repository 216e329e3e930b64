"""Plays Slack calling the bot: signed slash commands, button clicks and Events API requests to /slack/events."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import string
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from bot.clock import SYSTEM_CLOCK, Clock
from sandbox.slack import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    SEED_CHANNELS,
    SEED_USERS,
    TEAM_DOMAIN,
    TEAM_ID,
    SlackMessage,
    SlackStandin,
)
from sandbox.slack.buttons import Button, ButtonNotFound, buttons_in

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
VERIFICATION_TOKEN = "sandbox-verification-token"
STALE_SECONDS = 600
_UPPER = string.ascii_uppercase + string.digits


class SlackSender:
    """Sends requests to the bot as Slack would, signed with `signing_secret` (`v0` HMAC-SHA256).

    `bot_url` is the bot's events URL; a bare `http://host:port` gets Bolt's default `/slack/events`.
    With a `standin`, response URLs point at it, names come from its workspace and `click_button` reads
    its messages; without one, response URLs are fake `hooks.slack.com` addresses and names the seeds'.
    """

    def __init__(
        self,
        bot_url: str,
        signing_secret: str,
        *,
        standin: SlackStandin | None = None,
        clock: Clock | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.url = (
            bot_url if urlsplit(bot_url).path not in ("", "/") else f"{bot_url.rstrip('/')}/slack/events"
        )
        self.standin = standin
        self.clock = clock or SYSTEM_CLOCK
        self.timeout = timeout
        self._secret = signing_secret
        self._serial = itertools.count(1)

    # signing and sending

    def timestamp(self) -> int:
        return int(self.clock.now().timestamp())

    def stale_timestamp(self) -> int:
        """A timestamp outside Slack's five-minute replay window."""
        return self.timestamp() - STALE_SECONDS

    def sign(
        self,
        body: bytes,
        *,
        content_type: str = FORM,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> dict[str, str]:
        """Slack's request headers for `body`; pass another `secret` or a stale `timestamp` to forge them."""
        ts = str(self.timestamp() if timestamp is None else timestamp)
        key = (self._secret if secret is None else secret).encode()
        digest = hmac.new(key, b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
        return {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": f"v0={digest}",
        }

    def raw(self, body: bytes, headers: dict[str, str]) -> requests.Response:
        """POST exactly this body and these headers (malformed or forged requests)."""
        return requests.post(self.url, data=body, headers=headers, timeout=self.timeout)

    def send(self, body: bytes, content_type: str, retry_num: int | None = None) -> requests.Response:
        headers = self.sign(body, content_type=content_type)
        if retry_num is not None:
            headers.update({"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"})
        return self.raw(body, headers)

    # slash commands

    def command_body(
        self,
        command: str = "/smtp-enable",
        text: str = "",
        *,
        user_id: str = "U0REQUEST",
        channel_id: str = "C0OPS",
        team_id: str = TEAM_ID,
        trigger_id: str | None = None,
        response_url: str | None = None,
    ) -> bytes:
        """The form body Slack posts for a slash command."""
        if response_url is None:
            response_url = (
                self.standin.new_response_url(channel=channel_id, user=user_id)
                if self.standin
                else self._fake_response_url("commands", team_id)
            )
        fields = {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel_id,
            "channel_name": self._channel_name(channel_id),
            "user_id": user_id,
            "user_name": self._user_name(user_id),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id or self._trigger_id(),
        }
        return urlencode(fields).encode()

    def command(
        self,
        command: str = "/smtp-enable",
        text: str = "",
        *,
        user_id: str = "U0REQUEST",
        channel_id: str = "C0OPS",
        team_id: str = TEAM_ID,
        trigger_id: str | None = None,
        response_url: str | None = None,
        retry_num: int | None = None,
    ) -> requests.Response:
        """Run a slash command as `user_id` in `channel_id`; `retry_num` marks it as Slack's retry."""
        body = self.command_body(
            command,
            text,
            user_id=user_id,
            channel_id=channel_id,
            team_id=team_id,
            trigger_id=trigger_id,
            response_url=response_url,
        )
        return self.send(body, FORM, retry_num)

    # block actions

    def click_payload(
        self,
        action_id: str,
        value: str | None,
        *,
        user_id: str,
        channel_id: str = "C0OPS",
        message_ts: str,
        block_id: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        text: str | None = None,
        ephemeral: bool = False,
        response_url: str | None = None,
    ) -> dict[str, Any]:
        """The `block_actions` payload of a button click on message `message_ts`.

        `blocks` are the message's current blocks; by default they come from the stand-in's copy.
        """
        if response_url is None:
            response_url = (
                self.standin.new_response_url(
                    channel=channel_id, user=user_id, message_ts=message_ts, ephemeral=ephemeral
                )
                if self.standin
                else self._fake_response_url("actions", TEAM_ID)
            )
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id or _random(5, string.ascii_letters + string.digits),
            "text": {"type": "plain_text", "text": text or action_id, "emoji": True},
            "type": "button",
            "action_ts": f"{self.clock.now().timestamp():.6f}",
        }
        if value is not None:
            action["value"] = value
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {
                "id": user_id,
                "username": self._user_name(user_id),
                "name": self._user_name(user_id),
                "team_id": TEAM_ID,
            },
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel_id,
                "is_ephemeral": ephemeral,
            },
            "trigger_id": self._trigger_id(),
            "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": self._channel_name(channel_id)},
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [action],
        }
        if not ephemeral:
            payload["message"] = self._message_payload(channel_id, message_ts, blocks)
        return payload

    def click_in_home(self, action_id: str, value: str, *, user_id: str, view: dict[str, Any]) -> requests.Response:
        """Click a button of `user_id`'s App Home `view`: Slack sends the view, and no channel nor response_url."""
        shown = next((b for b in buttons_in(view.get("blocks") or []) if b.action_id == action_id and b.value == value),
                     None)
        payload = self.click_payload(action_id, value, user_id=user_id, message_ts="", response_url="",
                                     text=shown.text if shown else None, block_id=shown.block_id if shown else None)
        for key in ("channel", "message", "response_url"):
            payload.pop(key, None)
        payload["container"] = {"type": "view", "view_id": view["id"]}
        payload["view"] = view
        return self.send(urlencode({"payload": json.dumps(payload)}).encode(), FORM)

    def click(self, action_id: str, value: str | None, **options: Any) -> requests.Response:
        """Click a button as `options["user_id"]`: a signed `payload=<json>` form post of `click_payload`."""
        payload = self.click_payload(action_id, value, **options)
        return self.send(urlencode({"payload": json.dumps(payload)}).encode(), FORM)

    def buttons(self, channel: str, ts: str) -> list[Button]:
        """The buttons on the stand-in's current version of a message (channel or ephemeral), in order."""
        return buttons_in(self._current(channel, ts).blocks)

    def click_button(
        self, channel: str, ts: str, *, user_id: str, text_or_action_id: str
    ) -> requests.Response:
        """Click the button a person would see on message `ts`, found by its label or its action_id."""
        message = self._current(channel, ts)
        buttons = buttons_in(message.blocks)
        wanted = text_or_action_id
        button = next((b for b in buttons if b.text == wanted or b.action_id == wanted), None) or next(
            (b for b in buttons if b.text.casefold() == wanted.casefold()), None
        )
        if button is None:
            shown = ", ".join(f"{b.text!r} ({b.action_id})" for b in buttons) or "none"
            raise ButtonNotFound(f"no button {wanted!r} on message {ts} in {channel}; buttons: {shown}")
        return self.click(
            button.action_id,
            button.value,
            user_id=user_id,
            channel_id=channel,
            message_ts=ts,
            block_id=button.block_id,
            blocks=message.blocks,
            text=button.text,
            ephemeral=message.visible_to is not None,
        )

    # Events API

    def event_body(
        self, event: dict[str, Any], *, team_id: str = TEAM_ID, event_id: str | None = None
    ) -> bytes:
        """The `event_callback` envelope Slack posts around `event` (a retry keeps the first `event_id`)."""
        now = self.clock.now().timestamp()
        envelope = {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "context_team_id": team_id,
            "context_enterprise_id": None,
            "api_app_id": APP_ID,
            "event": {"event_ts": f"{now:.6f}", **event},
            "type": "event_callback",
            "event_id": event_id or "Ev" + _random(9, _UPPER),
            "event_time": int(now),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team_id,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + _random(40, string.ascii_letters + string.digits),
        }
        return json.dumps(envelope).encode()

    def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry_num: int | None = None
    ) -> requests.Response:
        """Deliver an Events API event (e.g. `{"type": "app_home_opened", ...}`); `retry_num` marks a retry."""
        return self.send(self.event_body(event, event_id=event_id), JSON, retry_num)

    def app_home_opened(self, user_id: str = "U0REQUEST", tab: str = "home") -> requests.Response:
        """`app_home_opened` for `user_id`, carrying the Home view the stand-in last published for them."""
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": "D" + user_id[1:],
            "tab": tab,
        }
        view = self.standin.home(user_id) if self.standin else None
        if view is not None:
            event["view"] = view
        return self.event(event)

    def url_verification(self, challenge: str | None = None) -> requests.Response:
        """The `url_verification` handshake; the bot must echo the challenge."""
        body = {
            "token": VERIFICATION_TOKEN,
            "challenge": challenge or secrets.token_urlsafe(32),
            "type": "url_verification",
        }
        return self.send(json.dumps(body).encode(), JSON)

    # helpers

    def _current(self, channel: str, ts: str) -> SlackMessage:
        if self.standin is None:
            raise RuntimeError("reading a message's buttons needs a SlackSender with a standin")
        found = [m for m in self.standin.messages(channel) if m.ts == ts]
        found += [m for m in self.standin.ephemerals() if m.channel == channel and m.ts == ts]
        if not found:
            raise ButtonNotFound(f"no message {ts} in {channel} (deleted, or never posted)")
        return found[0]

    def _message_payload(self, channel: str, ts: str, blocks: list[dict[str, Any]] | None) -> dict[str, Any]:
        known = [m for m in self.standin.messages(channel) if m.ts == ts] if self.standin else []
        message = (
            known[0].payload()
            if known
            else {
                "type": "message",
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "app_id": APP_ID,
                "text": "",
                "ts": ts,
                "team": TEAM_ID,
            }
        )
        if blocks is not None:
            message["blocks"] = blocks
        return message

    def _user_name(self, user_id: str) -> str:
        if self.standin is not None:
            return self.standin.user_name(user_id)
        return SEED_USERS[user_id][0] if user_id in SEED_USERS else user_id.lower()

    def _channel_name(self, channel_id: str) -> str:
        if self.standin is not None:
            return self.standin.channel_name(channel_id)
        return SEED_CHANNELS.get(channel_id) or (
            "directmessage" if channel_id.startswith("D") else channel_id
        )

    def _trigger_id(self) -> str:
        return f"{next(self._serial)}{_random(9, string.digits)}.{_random(10, string.digits)}.{secrets.token_hex(16)}"

    def _fake_response_url(self, kind: str, team_id: str) -> str:
        return f"https://hooks.slack.com/{kind}/{team_id}/{_random(13, string.digits)}/{_random(24, _UPPER)}"


def _random(length: int, alphabet: str) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))
