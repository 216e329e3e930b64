"""History fixtures: a migrated SQLite store on the fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.store import Store


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path}/x.db", clock=clock)
    store.migrate()
    yield store
    store.close()
