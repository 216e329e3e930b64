"""Leases (one replica probes) and the Slack outbox (at-least-once delivery with a visibility timeout)."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import FakeClock
from bot.store import Store

TTL = timedelta(seconds=30)


def test_lease_acquire_renew_and_takeover(store: Store, clock: FakeClock) -> None:
    assert store.leases.holder("scheduler") is None
    assert store.leases.acquire("scheduler", "replica-a", TTL)
    assert not store.leases.acquire("scheduler", "replica-b", TTL)
    assert store.leases.holder("scheduler") == "replica-a"

    clock.advance(20)
    assert store.leases.acquire("scheduler", "replica-a", TTL)  # renewal
    clock.advance(20)
    assert not store.leases.acquire("scheduler", "replica-b", TTL)  # renewed lease still runs 10 s
    assert store.leases.holder("scheduler") == "replica-a"

    clock.advance(10)
    assert store.leases.holder("scheduler") is None
    assert store.leases.acquire("scheduler", "replica-b", TTL)  # expired: taken over
    assert store.leases.holder("scheduler") == "replica-b"
    assert not store.leases.acquire("scheduler", "replica-a", TTL)


def test_lease_release(store: Store) -> None:
    assert store.leases.acquire("scheduler", "replica-a", TTL)
    assert not store.leases.release("scheduler", "replica-b")
    assert store.leases.release("scheduler", "replica-a")
    assert store.leases.holder("scheduler") is None
    assert store.leases.acquire("scheduler", "replica-b", TTL)
    assert store.leases.acquire("other", "replica-a", TTL)  # leases are independent


def test_enqueue_dedupes(store: Store) -> None:
    first = store.outbox.enqueue("post", {"channel": "C1", "text": "alert"}, dedupe_key="alert:scanner:1")
    assert store.outbox.enqueue("post", {"channel": "C1", "text": "again"}, dedupe_key="alert:scanner:1") == first
    other = store.outbox.enqueue("post", {"channel": "C1", "text": "alert"})
    assert other != first and store.outbox.enqueue("post", {"channel": "C1", "text": "alert"}) != other
    item = store.outbox.get(first)
    assert item is not None and (item.state, item.payload["text"], item.attempts) == ("pending", "alert", 0)


def test_claim_deliver_retry_and_dead(store: Store, clock: FakeClock) -> None:
    post = store.outbox.enqueue("post", {"text": "one"})
    update = store.outbox.enqueue("update", {"text": "two"})
    clock.advance(1)
    claimed = store.outbox.claim_due(10, lease=timedelta(seconds=60))
    assert [(i.id, i.state, i.attempts) for i in claimed] == [
        (post, "delivering", 1),
        (update, "delivering", 1),
    ]
    assert store.outbox.claim_due(10, lease=timedelta(seconds=60)) == []

    assert store.outbox.mark_delivered(post, {"ts": "1700000000.000200"})
    assert not store.outbox.mark_delivered(post, {"ts": "again"})
    delivered = store.outbox.get(post)
    assert delivered is not None
    assert (delivered.state, delivered.result, delivered.delivered_at) == (
        "delivered",
        {"ts": "1700000000.000200"},
        clock.now(),
    )

    assert store.outbox.mark_retry(update, "ratelimited", clock.now() + timedelta(seconds=30))
    assert store.outbox.claim_due(10, lease=timedelta(seconds=60)) == []
    clock.advance(30)
    (again,) = store.outbox.claim_due(10, lease=timedelta(seconds=60))
    assert (again.id, again.attempts, again.last_error) == (update, 2, "ratelimited")
    assert store.outbox.mark_dead(update, "channel_not_found")
    assert store.outbox.get(update).state == "dead"  # type: ignore[union-attr]
    clock.advance(3600)
    assert store.outbox.claim_due(10, lease=timedelta(seconds=60)) == []


def test_visibility_timeout_returns_a_crashed_deliverers_item(store: Store, clock: FakeClock) -> None:
    item_id = store.outbox.enqueue("post", {"text": "one"})
    assert [i.id for i in store.outbox.claim_due(1, lease=timedelta(seconds=60))] == [item_id]
    clock.advance(59)
    assert store.outbox.claim_due(1, lease=timedelta(seconds=60)) == []
    clock.advance(1)
    (back,) = store.outbox.claim_due(1, lease=timedelta(seconds=60))
    assert (back.id, back.attempts) == (item_id, 2)


def test_claim_respects_limit_and_order(store: Store, clock: FakeClock) -> None:
    ids = [store.outbox.enqueue("post", {"n": n}) for n in range(5)]
    assert [i.id for i in store.outbox.claim_due(2, lease=timedelta(seconds=60))] == ids[:2]
    assert [i.id for i in store.outbox.claim_due(10, lease=timedelta(seconds=60))] == ids[2:]
