"""Intake: concurrent commands share one transaction; each caller gets its own id, None or the error."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from bot.store import Store
from bot.store.intake import Intake
from bot.store.requests import Incoming

TTL = timedelta(hours=1)
WAIT = 10


class Held:
    """The store's receive_many, counting transactions; the first one waits until `release` is set."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.groups: list[int] = []
        self.release = threading.Event()
        self.error: Exception | None = None

    def receive_many(self, commands: list[Incoming], ttl: timedelta) -> list[str | None]:
        self.groups.append(len(commands))
        if len(self.groups) == 1:
            self.release.wait(WAIT)
        if self.error is not None:
            raise self.error
        return self.store.requests.receive_many(commands, ttl)


def command(n: int, trigger: str | None = None) -> Incoming:
    return Incoming(f"user{n}@contoso.com", "U0REQUEST", "C0OPS", {"auth_mode": "basic"}, trigger or f"t{n}")


def wait_for(condition) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


@pytest.fixture
def store(db_url, clock):
    store = Store(db_url, clock=clock)
    store.migrate()
    yield store
    store.close()


def test_commands_arriving_while_one_is_written_share_the_next_transaction(store):
    held = Held(store)
    intake = Intake(held)  # type: ignore[arg-type]
    with ThreadPoolExecutor(max_workers=6) as pool:
        first = pool.submit(intake.receive, command(0), TTL)
        wait_for(lambda: held.groups == [1])
        rest = [pool.submit(intake.receive, command(n), TTL) for n in range(1, 6)]
        wait_for(lambda: intake.waiting() == 5)
        held.release.set()
        ids = [first.result(WAIT), *(f.result(WAIT) for f in rest)]
    assert held.groups == [1, 5]
    assert len(set(ids)) == 6 and None not in ids
    assert sorted(r.upn for r in store.requests.list()) == [f"user{n}@contoso.com" for n in range(6)]


def test_a_redelivery_in_the_same_group_stores_nothing(store):
    intake = Intake(store.requests)
    first = intake.receive(command(1, "same"), TTL)
    assert intake.receive(command(1, "same"), TTL) is None
    assert [r.id for r in store.requests.list()] == [first]
    assert store.requests.receive_many([command(2, "x"), command(2, "x")], TTL)[1] is None


def test_every_caller_of_a_failed_transaction_gets_its_error(store):
    held = Held(store)
    held.error = RuntimeError("database is locked")
    intake = Intake(held)  # type: ignore[arg-type]
    with ThreadPoolExecutor(max_workers=3) as pool:
        first = pool.submit(intake.receive, command(0), TTL)
        wait_for(lambda: held.groups == [1])
        rest = [pool.submit(intake.receive, command(n), TTL) for n in (1, 2)]
        wait_for(lambda: intake.waiting() == 2)
        held.release.set()
        for future in (first, *rest):
            with pytest.raises(RuntimeError, match="database is locked"):
                future.result(WAIT)
    assert store.requests.list() == []
    held.error = None
    assert intake.receive(command(3), TTL) is not None  # the lead was handed back: the next one is stored


def test_an_id_already_taken_is_drawn_again(store, monkeypatch):
    taken = store.requests.receive("a@contoso.com", "U0REQUEST", "C0OPS", TTL, {})
    drawn = iter([taken, "CR-NEWONE"])
    monkeypatch.setattr("bot.store.requests.new_request_id", lambda: next(drawn))
    assert store.requests.receive_many([command(5)], TTL) == ["CR-NEWONE"]
    assert sorted(r.id for r in store.requests.list()) == sorted([taken, "CR-NEWONE"])
