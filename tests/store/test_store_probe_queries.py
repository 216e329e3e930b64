"""The probe reads behind status, metrics and charts: newest per target, ok/total counts, light samples."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import FakeClock
from bot.store import Store


def test_latest_probes_are_the_newest_by_time_not_by_insertion(store: Store, clock: FakeClock) -> None:
    now = clock.now()
    store.probes.record(
        "scanner", "scanner@contoso.com", ok=False, at=now, cause="auth_failed", latency_ms=900
    )
    store.probes.record("scanner", "scanner@contoso.com", ok=True, at=now - timedelta(minutes=5))
    store.probes.record("printer", "printer@contoso.com", ok=True, at=now - timedelta(hours=1))
    store.probes.record(
        "printer", "printer@contoso.com", ok=False, at=now - timedelta(hours=1), cause="timeout"
    )

    latest = store.probes.latest()
    assert sorted(latest) == ["printer", "scanner"]
    assert (latest["scanner"].ok, latest["scanner"].cause, latest["scanner"].latency_ms) == (
        False,
        "auth_failed",
        900,
    )
    assert latest["printer"].cause == "timeout"  # same time: the later row wins


def test_probe_counts_include_a_probe_exactly_at_the_start(store: Store, clock: FakeClock) -> None:
    since = clock.now() - timedelta(hours=24)
    for at, ok in ((since - timedelta(seconds=1), True), (since, False), (since + timedelta(hours=1), True)):
        store.probes.record("scanner", "scanner@contoso.com", ok=ok, at=at)
    store.probes.record("printer", "printer@contoso.com", ok=True, at=since - timedelta(days=1))

    assert store.probes.counts(since) == {"scanner": (1, 2)}
    assert store.probes.counts(since - timedelta(days=2)) == {"scanner": (2, 3), "printer": (1, 1)}


def test_probe_samples_are_light_rows_oldest_first(store: Store, clock: FakeClock) -> None:
    now = clock.now()
    store.probes.record("scanner", "scanner@contoso.com", ok=True, at=now, latency_ms=300)
    store.probes.record("printer", "printer@contoso.com", ok=False, at=now - timedelta(minutes=1))
    store.probes.record("printer", "printer@contoso.com", ok=True, at=now - timedelta(days=2))

    assert store.probes.samples(now - timedelta(days=1)) == [
        ("printer", now - timedelta(minutes=1), False, None),
        ("scanner", now, True, 300),
    ]
