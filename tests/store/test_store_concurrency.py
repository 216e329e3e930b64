"""Exactly-once under contention: racing threads and racing processes each get one winner."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import text
from store_helpers import approve_in_process, migrate_in_process

from bot.store import Store
from bot.store.schema import head_revision

T = TypeVar("T")


def race(count: int, attempt: Callable[[int], T]) -> list[T]:
    """Run `attempt(i)` in `count` threads released at the same instant."""
    start = threading.Barrier(count)

    def contender(i: int) -> T:
        start.wait()
        return attempt(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(contender, range(count)))


def test_fifty_threads_one_approval(store: Store, request_id: str) -> None:
    step_id = store.requests.get_steps(request_id)[0].id
    results = race(
        50,
        lambda i: store.requests.transition_step(
            step_id, "pending", "approved", f"U{i}", "step.approved", decided_by=f"U{i}"
        ),
    )
    assert results.count(True) == 1
    winner = f"U{results.index(True)}"
    assert store.requests.get_step(step_id).decided_by == winner  # type: ignore[union-attr]
    approvals = [e for e in store.requests.audit_rows(request_id=request_id) if e.action == "step.approved"]
    assert [(e.actor, e.step_id) for e in approvals] == [(winner, step_id)]


def test_competing_decisions_one_wins(store: Store, request_id: str) -> None:
    step_id = store.requests.get_steps(request_id)[0].id
    outcomes = ("approved", "denied", "expired")
    results = race(
        30,
        lambda i: store.requests.transition_step(
            step_id, "pending", outcomes[i % 3], f"U{i}", f"step.{outcomes[i % 3]}"
        ),
    )
    assert results.count(True) == 1
    final = store.requests.get_step(step_id)
    assert final is not None and final.state == outcomes[results.index(True) % 3] and final.version == 1


def test_separate_processes_one_approval(store: Store, request_id: str, db_url: str) -> None:
    step_id = store.requests.get_steps(request_id)[0].id
    contenders = 3
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(contenders, mp_context=context) as pool:
        start = manager.Barrier(contenders + 1)
        futures = [
            pool.submit(approve_in_process, db_url, step_id, f"U{i}", start) for i in range(contenders)
        ]
        start.wait(timeout=60)
        results = [f.result(timeout=60) for f in futures]
    assert results.count(True) == 1
    assert [e.actor for e in store.requests.audit_rows(request_id=request_id) if e.action == "step.approved"] == [
        f"U{results.index(True)}"
    ]


def test_separate_processes_migrate_once(db_url: str) -> None:
    contenders = 3
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(contenders, mp_context=context) as pool:
        start = manager.Barrier(contenders + 1)
        futures = [pool.submit(migrate_in_process, db_url, start) for _ in range(contenders)]
        start.wait(timeout=60)
        assert [f.result(timeout=60) for f in futures] == ["ok"] * contenders
    store = Store(db_url)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]
    store.close()


def test_racing_lease_acquirers_one_holder(store: Store) -> None:
    results = race(20, lambda i: store.leases.acquire("scheduler", f"replica-{i}", timedelta(seconds=30)))
    assert results.count(True) == 1
    assert store.leases.holder("scheduler") == f"replica-{results.index(True)}"


def test_racing_enqueues_with_one_dedupe_key_share_an_id(store: Store) -> None:
    ids = race(20, lambda i: store.outbox.enqueue("post", {"n": i}, dedupe_key="recovery:scanner:7"))
    assert len(set(ids)) == 1


def test_concurrent_claimers_get_each_item_once(store: Store) -> None:
    queued = {store.outbox.enqueue("post", {"n": n}) for n in range(60)}

    def drain(_: int) -> list[int]:
        mine: list[int] = []
        while batch := store.outbox.claim_due(4, lease=timedelta(minutes=5)):
            mine.extend(item.id for item in batch)
        return mine

    claims = Counter(item_id for batch in race(8, drain) for item_id in batch)
    assert set(claims) == queued
    assert set(claims.values()) == {1}
