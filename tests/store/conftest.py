"""Store fixtures: every test runs on a SQLite file and, when TEST_DATABASE_URL is set, on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from store_helpers import STEPS, TTL

from bot.clock import FakeClock
from bot.store import Store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(db_url: str, clock: FakeClock) -> Iterator[Store]:
    """A migrated store on the fake clock."""
    store = Store(db_url, clock=clock)
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def request_id(store: Store) -> str:
    """A planned request with two pending steps."""
    return store.requests.create(
        upn="scanner@contoso.com",
        tenant_id="contoso",
        requester="U_REQ",
        channel="C_OPS",
        ttl=TTL,
        steps=STEPS,
        diagnosis={"cause": "smtp_auth_disabled"},
    )
