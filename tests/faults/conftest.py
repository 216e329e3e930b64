"""The fault suite's fixtures: a module-wide Slack stand-in and a `cluster` of real bot processes per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.launcher import Sandbox
from sandbox.slack import SlackStandin, start_slack_standin
from tests.conftest import postgres_schema
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


@pytest.fixture(scope="module")
def module_cluster(sandbox_server: Sandbox, standin_server: SlackStandin,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster (database schema and processes) for a whole module whose tests share its settings; each test
    still gets the sandbox and the stand-in reset (ask for `sandbox` and `standin` too)."""
    with postgres_schema() as url:
        running = Cluster(sandbox_server, standin_server, url, tmp_path_factory.mktemp("cluster"))
        yield running
        running.stop()


@pytest.fixture
def cluster(sandbox: Sandbox, standin: SlackStandin, pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """Bot processes on a fresh PostgreSQL schema (skipped without TEST_DATABASE_URL), killed at teardown."""
    running = Cluster(sandbox, standin, pg_url, tmp_path)
    yield running
    running.stop()
