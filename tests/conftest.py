"""Shared fixtures: one sandbox tenant per test session, reset before each test that uses it."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.clock import FakeClock
from bot.config import AppConfig, load_config, with_overrides
from bot.m365.tenant import M365, connect
from bot.store import normalise_url
from sandbox.launcher import Sandbox, start_sandbox

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sandbox = start_sandbox(tmp_path_factory.mktemp("sandbox"))
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    """The sandbox with its seed state, no faults and an empty request log."""
    sandbox_server.reset()
    sandbox_server.state.faults.clear()
    sandbox_server.state.requests.clear()
    return sandbox_server


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def sandbox_config(sandbox: Sandbox, tenant: str = "contoso", **m365: Any) -> AppConfig:
    """The shipped app.yaml with no environment, pointed at the sandbox through configuration only."""
    settings = sandbox.m365_settings(tenant)
    settings.update(m365)
    return with_overrides(load_config(ROOT / "app.yaml", env={}), {"m365": settings})


@pytest.fixture
def make_m365(sandbox: Sandbox, clock: FakeClock) -> Callable[..., M365]:
    """Build fresh clients (a fresh MSAL app) for a sandbox tenant, with the fake clock for waits."""

    def make(tenant: str = "contoso", **m365: Any) -> M365:
        return connect(sandbox_config(sandbox, tenant, **m365).m365, clock=clock)

    return make


@pytest.fixture
def m365(make_m365: Callable[..., M365]) -> M365:
    return make_m365()


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL to a fresh PostgreSQL schema (dropped afterwards); skips the test without TEST_DATABASE_URL."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set")
    schema_name = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema_name}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema_name}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema_name}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL to an empty database: a fresh SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'bot.db'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_schema() as url:
        yield url
