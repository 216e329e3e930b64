"""The Slack stand-in as tests and the console run it: served by werkzeug in a thread, with query helpers."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from bot.clock import SYSTEM_CLOCK, Clock
from sandbox.keepalive import ConnectionStats, serve
from sandbox.slack.faults import SlackFaults
from sandbox.slack.identity import BOT_SCOPES
from sandbox.slack.messages import new_response_url
from sandbox.slack.records import ResponsePost, SlackCall, SlackFile, SlackMessage
from sandbox.slack.server import SlackApp
from sandbox.slack.workspace import Workspace, channel_info, user_info


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
        keep_alive: bool = True,
    ):
        self.faults = SlackFaults()
        self._ws = Workspace(clock or SYSTEM_CLOCK, lambda: self.url, scopes)
        self._server = serve(host, port, SlackApp(self._ws, self.faults, bot_token), keep_alive=keep_alive)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="slack-standin",
            daemon=True,
        )
        self._thread.start()

    @property
    def connections(self) -> ConnectionStats:
        """TCP connections accepted and requests answered (Slack keeps connections alive; so does this)."""
        return self._server.stats  # type: ignore[attr-defined, no-any-return]

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
        self.connections.close_all()
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
            self._ws.users[user_id] = user_info(user_id, name, real_name, tz)

    def add_channel(self, channel_id: str, name: str) -> None:
        with self._ws.lock:
            self._ws.channels[channel_id] = channel_info(channel_id, name)

    def new_response_url(
        self, *, channel: str, user: str, message_ts: str | None = None, ephemeral: bool = False
    ) -> str:
        """A fresh response URL for an interaction by `user` in `channel` (on message `message_ts`, if any)."""
        with self._ws.lock:
            return new_response_url(self._ws, channel, user, message_ts, ephemeral)

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
