"""Warnings about a database that may lose the audit log (an ephemeral SQLite file) or not be shared."""

from __future__ import annotations

import io

import pytest
from config_helpers import FULL_ENV, SHIPPED

from bot.config import check_config_main, load_config
from bot.config.storage import database_warnings

SLACK_ON = FULL_ENV  # HTTP mode


@pytest.fixture
def shipped(tmp_path):
    """The shipped app.yaml with an approver, so Slack may be on."""
    path = tmp_path / "app.yaml"
    path.write_text(SHIPPED.read_text().replace("  approvers: []", "  approvers: [U0APPROVE]"))
    return path


def config(path, url: str, env: dict[str, str] = FULL_ENV, **server: int):
    cfg = load_config(path, {**env, "DATABASE_URL": url})
    return cfg.model_copy(update={"server": cfg.server.model_copy(update=server)}) if server else cfg


@pytest.mark.parametrize(("url", "container", "ephemeral"), [
    ("sqlite:////tmp/bot.db", False, True),
    ("sqlite:////var/tmp/state/bot.db", False, True),
    ("sqlite:///bot.db", True, True),
    ("sqlite:///bot.db", False, False),
    ("sqlite:////data/bot.db", True, False),
    ("sqlite:////tmpfiles/bot.db", False, False),
    ("postgresql://bot@db/bot", True, False),
])
def test_an_sqlite_file_in_tmp_or_relative_in_a_container_is_called_ephemeral(shipped, url, container, ephemeral):
    warnings = database_warnings(config(shipped, url, workers=1), container=container)
    assert [w for w in warnings if "looks ephemeral" in w] == (
        [f"database: the SQLite file {url.removeprefix('sqlite:///')} looks ephemeral: the audit log and every "
         "request are lost when the process, host or container is replaced; put it on a persistent volume (an "
         "absolute path) or use PostgreSQL (DATABASE_URL)"] if ephemeral else [])


@pytest.mark.parametrize(("url", "env", "workers", "warned"), [
    ("sqlite:////data/bot.db", SLACK_ON, 2, True),
    ("sqlite:////data/bot.db", SLACK_ON, 1, False),
    ("postgresql://bot@db/bot", SLACK_ON, 4, False),
    ("sqlite:////data/bot.db", {**SLACK_ON, "SLACK_APP_TOKEN": "xapp-1-abc"}, 2, False),  # Socket Mode
])
def test_sqlite_with_several_gunicorn_workers_is_warned_about(shipped, url, env, workers, warned):
    warnings = database_warnings(config(shipped, url, env, workers=workers), container=False)
    assert any("SQLite with server.workers" in w for w in warnings) == warned


def test_check_config_names_the_database_and_its_warnings(shipped):
    out = io.StringIO()
    assert check_config_main(shipped, {**SLACK_ON, "DATABASE_URL": "sqlite:////tmp/bot.db"}, out) == 0
    lines = out.getvalue().splitlines()
    assert lines[-3:] == [
        "Database: SQLite file /tmp/bot.db",
        "Warning: database: SQLite with server.workers 2: fine on one host, but replicas on other hosts would "
        "each have their own file; use PostgreSQL (DATABASE_URL) for several",
        "Warning: database: the SQLite file /tmp/bot.db looks ephemeral: the audit log and every request are lost "
        "when the process, host or container is replaced; put it on a persistent volume (an absolute path) or use "
        "PostgreSQL (DATABASE_URL)",
    ]
