"""Shared fixtures: one sandbox tenant per test session, reset before each test that uses it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.config import AppConfig, load_config, with_overrides
from bot.m365.tenant import M365, connect
from bot.sandbox.testing import Sandbox, start_sandbox

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
    tenant_id, client_id, secret = sandbox.creds(tenant)
    settings: dict[str, Any] = {
        "tenant_id": tenant_id, "client_id": client_id, "client_secret": secret,
        "endpoints": {"login": sandbox.url, "graph": sandbox.url, "exchange": sandbox.url},
        "ca_bundle": str(sandbox.ca_path),
    }
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
