"""Leases (one replica probes) and the Slack outbox (at-least-once delivery with a visibility timeout)."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import FakeClock
from bot.store import Store

TTL = timedelta(seconds=30)


def test_lease_acquire_renew_and_takeover(store: Store, clock: FakeClock) -> None:
    assert store.lease_holder("scheduler") is None
    assert store.acquire_lease("scheduler", "replica-a", TTL)
    assert not store.acquire_lease("scheduler", "replica-b", TTL)
    assert store.lease_holder("scheduler") == "replica-a"

    clock.advance(20)
    assert store.acquire_lease("scheduler", "replica-a", TTL)  # renewal
    clock.advance(20)
    assert not store.acquire_lease("scheduler", "replica-b", TTL)  # renewed lease still runs 10 s
    assert store.lease_holder("scheduler") == "replica-a"

    clock.advance(10)
    assert store.lease_holder("scheduler") is None
    assert store.acquire_lease("scheduler", "replica-b", TTL)  # expired: taken over
    assert store.lease_holder("scheduler") == "replica-b"
    assert not store.acquire_lease("scheduler", "replica-a", TTL)


def test_lease_release(store: Store) -> None:
    assert store.acquire_lease("scheduler", "replica-a", TTL)
    assert not store.release_lease("scheduler", "replica-b")
    assert store.release_lease("scheduler", "replica-a")
    assert store.lease_holder("scheduler") is None
    assert store.acquire_lease("scheduler", "replica-b", TTL)
    assert store.acquire_lease("other", "replica-a", TTL)  # leases are independent


def test_enqueue_dedupes(store: Store) -> None:
    first = store.enqueue("post", {"channel": "C1", "text": "alert"}, dedupe_key="alert:scanner:1")
    assert store.enqueue("post", {"channel": "C1", "text": "again"}, dedupe_key="alert:scanner:1") == first
    other = store.enqueue("post", {"channel": "C1", "text": "alert"})
    assert other != first and store.enqueue("post", {"channel": "C1", "text": "alert"}) != other
    item = store.outbox_item(first)
    assert item is not None and (item.state, item.payload["text"], item.attempts) == ("pending", "alert", 0)


def test_claim_deliver_retry_and_dead(store: Store, clock: FakeClock) -> None:
    post = store.enqueue("post", {"text": "one"})
    update = store.enqueue("update", {"text": "two"})
    clock.advance(1)
    claimed = store.claim_due(10, lease=timedelta(seconds=60))
    assert [(i.id, i.state, i.attempts) for i in claimed] == [
        (post, "delivering", 1),
        (update, "delivering", 1),
    ]
    assert store.claim_due(10, lease=timedelta(seconds=60)) == []

    assert store.mark_delivered(post, {"ts": "1700000000.000200"})
    assert not store.mark_delivered(post, {"ts": "again"})
    delivered = store.outbox_item(post)
    assert delivered is not None
    assert (delivered.state, delivered.result, delivered.delivered_at) == (
        "delivered",
        {"ts": "1700000000.000200"},
        clock.now(),
    )

    assert store.mark_retry(update, "ratelimited", clock.now() + timedelta(seconds=30))
    assert store.claim_due(10, lease=timedelta(seconds=60)) == []
    clock.advance(30)
    (again,) = store.claim_due(10, lease=timedelta(seconds=60))
    assert (again.id, again.attempts, again.last_error) == (update, 2, "ratelimited")
    assert store.mark_dead(update, "channel_not_found")
    assert store.outbox_item(update).state == "dead"  # type: ignore[union-attr]
    clock.advance(3600)
    assert store.claim_due(10, lease=timedelta(seconds=60)) == []


def test_visibility_timeout_returns_a_crashed_deliverers_item(store: Store, clock: FakeClock) -> None:
    item_id = store.enqueue("post", {"text": "one"})
    assert [i.id for i in store.claim_due(1, lease=timedelta(seconds=60))] == [item_id]
    clock.advance(59)
    assert store.claim_due(1, lease=timedelta(seconds=60)) == []
    clock.advance(1)
    (back,) = store.claim_due(1, lease=timedelta(seconds=60))
    assert (back.id, back.attempts) == (item_id, 2)


def test_claim_respects_limit_and_order(store: Store, clock: FakeClock) -> None:
    ids = [store.enqueue("post", {"n": n}) for n in range(5)]
    assert [i.id for i in store.claim_due(2, lease=timedelta(seconds=60))] == ids[:2]
    assert [i.id for i in store.claim_due(10, lease=timedelta(seconds=60))] == ids[2:]
