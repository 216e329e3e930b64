"""A running bot for end-to-end tests: the real Bolt app behind a real HTTP server, the sandbox tenant and
the Slack stand-in, a real database, and a sender that signs requests as Slack does."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from slack_helpers import APPROVER, BOT_TOKEN, ROOT, SIGNING_SECRET, times_not_local, wait_until
from werkzeug.serving import make_server

from bot.clock import FakeClock
from bot.config import AppConfig, load_config, with_overrides
from bot.runtime import Runtime, build_runtime
from bot.slack.app import create_bolt_app, wsgi_app
from sandbox.launcher import Sandbox
from sandbox.slack import SlackStandin, start_slack_standin
from sandbox.slack_client import SlackSender


def slack_config(sandbox: Sandbox, standin: SlackStandin, db_url: str, probes: dict[str, Any] | None = None,
                 server: dict[str, Any] | None = None, database: dict[str, Any] | None = None,
                 **slack: Any) -> AppConfig:
    settings = {"bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET, "api_url": standin.api_url,
                "approvers": [APPROVER, "S0ADMINS"], "alert_channel": "C0ALERTS"} | slack
    return with_overrides(load_config(ROOT / "app.yaml", env={}),
                          {"m365": sandbox.m365_settings(), "slack": settings,
                           "database": {"url": db_url} | (database or {}),
                           "probes": probes or {}, "server": server or {}})


@dataclass
class RunningBot:
    url: str
    runtime: Runtime
    sender: SlackSender
    standin: SlackStandin
    sandbox: Sandbox
    clock: FakeClock
    stop: Callable[[], None]

    def top_level(self, channel: str = "C0OPS") -> list[Any]:
        """The channel's messages outside threads (cards; the notices to requesters are replies in their threads)."""
        return [m for m in self.standin.messages(channel) if m.thread_ts is None]

    def card(self, channel: str = "C0OPS", index: int = -1) -> Any:
        messages = wait_until(lambda: self.top_level(channel), what=f"a message in {channel}")
        return messages[index]

    def wait_card(self, predicate: Callable[[str], bool], channel: str = "C0OPS", what: str = "card") -> Any:
        def check() -> Any:
            messages = self.top_level(channel)
            return messages and predicate(str(messages[-1].blocks)) and messages[-1]
        return wait_until(check, what=what)

    def ephemeral_texts(self) -> list[str]:
        return [str(r.payload.get("text", "")) for r in self.standin.responses()]


@pytest.fixture(scope="session")
def standin_server() -> Iterator[SlackStandin]:
    standin = start_slack_standin(bot_token=BOT_TOKEN)
    yield standin
    standin.stop()


@pytest.fixture
def standin(standin_server: SlackStandin) -> SlackStandin:
    standin_server.reset()
    return standin_server


@pytest.fixture
def bot_db_url(tmp_path: Path) -> str:
    """End-to-end tests run on SQLite; the replica tests cover PostgreSQL with real processes."""
    return f"sqlite:///{tmp_path / 'bot.db'}"


@pytest.fixture
def start_bot(sandbox: Sandbox, standin: SlackStandin, bot_db_url: str) -> Iterator[Callable[..., RunningBot]]:
    running: list[RunningBot] = []

    def start(clock: FakeClock | None = None, probes: dict[str, Any] | None = None,
              server: dict[str, Any] | None = None, database: dict[str, Any] | None = None,
              **slack: Any) -> RunningBot:
        clock = clock or FakeClock()
        cfg = slack_config(sandbox, standin, bot_db_url, probes, server, database, **slack)
        runtime = build_runtime(cfg, clock=clock)
        app = wsgi_app(create_bolt_app(runtime), runtime)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        # Polled every 50 ms for shutdown (socketserver's default 0.5 s was every test's teardown).
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        runtime.outbox.poll_seconds = 0.02
        runtime.start(scheduler=False)  # tests drive the scheduler's jobs with the fake clock
        url = f"http://127.0.0.1:{server.server_port}"

        def stop() -> None:
            server.shutdown()
            runtime.stop()

        bot = RunningBot(url, runtime, SlackSender(url, SIGNING_SECRET, standin=standin), standin, sandbox, clock,
                         stop)
        running.append(bot)
        return bot

    yield start
    for bot in running:
        bot.stop()
    # Every scenario doubles as a check that each time shown in Slack is in the reader's zone (#14).
    assert times_not_local(standin) == [], "a time shown in Slack as UTC text, not with local_time"

