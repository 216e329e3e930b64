"""The fault suite's fixtures: a module-wide Slack stand-in and a `cluster` of real bot processes per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.launcher import Sandbox
from sandbox.slack import SlackStandin, start_slack_standin
from tests.faults.processes import Cluster
from tests.slack.slack_helpers import BOT_TOKEN


@pytest.fixture(scope="module")
def standin_server() -> Iterator[SlackStandin]:
    standin = start_slack_standin(bot_token=BOT_TOKEN)
    yield standin
    standin.stop()


@pytest.fixture
def standin(standin_server: SlackStandin) -> SlackStandin:
    standin_server.reset()
    return standin_server


@pytest.fixture
def cluster(sandbox: Sandbox, standin: SlackStandin, pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """Bot processes on a fresh PostgreSQL schema (skipped without TEST_DATABASE_URL), killed at teardown."""
    running = Cluster(sandbox, standin, pg_url, tmp_path)
    yield running
    running.stop()
