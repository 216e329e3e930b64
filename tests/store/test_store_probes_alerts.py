"""Probe results with retention, and per-target alert state with optimistic concurrency."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.clock import FakeClock
from bot.store import AlertState, Store


def test_probe_history_and_purge(store: Store, clock: FakeClock) -> None:
    start = clock.now()
    for minute in range(5):
        store.probes.record(
            "scanner",
            "scanner@contoso.com",
            ok=minute % 2 == 0,
            phase="auth",
            cause="smtp_auth_disabled",
            code=535,
            enhanced_status="5.7.139",
            reply="535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled",
            latency_ms=420,
            timings={"connect": 80, "tls": 120},
            tls_version="TLSv1.3",
            cert_days_left=61,
            auth_mode="basic",
        )
        store.probes.record("printer", "printer@contoso.com", ok=True)
        clock.advance(60)

    history = store.probes.history("scanner")
    assert [p.ok for p in history] == [True, False, True, False, True]
    assert history[1].enhanced_status == "5.7.139" and history[1].timings == {"connect": 80, "tls": 120}
    assert [p.at for p in store.probes.history("scanner", since=start + timedelta(minutes=3))] == [
        start + timedelta(minutes=3),
        start + timedelta(minutes=4),
    ]

    # now = start + 5 min: keep the last 2.5 minutes
    assert store.probes.purge(older_than=timedelta(minutes=2, seconds=30)) == 6
    assert len(store.probes.history("scanner")) == 2 and len(store.probes.history("printer")) == 2
    assert store.probes.purge(older_than=timedelta(minutes=2, seconds=30)) == 0


def test_alert_state_optimistic_versions(store: Store, clock: FakeClock) -> None:
    assert store.alerts.get("scanner") is None
    failing = AlertState(
        target="scanner",
        status="failing",
        consecutive_failures=3,
        last_cause="smtp_auth_disabled",
        last_reply="535 5.7.139",
        first_failure_at=clock.now(),
        last_failure_at=clock.now(),
        history=[False, False, False],
    )
    saved = store.alerts.save(failing)
    assert saved is not None and saved.version == 1 and saved.updated_at == clock.now()
    assert store.alerts.save(failing) is None  # someone created it first
    assert store.alerts.get("scanner") == saved

    clock.advance(60)
    posted = store.alerts.save(replace(saved, alert_channel="C_ALERTS", alert_ts="1.2", incident_id="INC-1"))
    assert posted is not None and posted.version == 2
    assert store.alerts.save(replace(saved, status="ok")) is None  # stale version loses
    assert store.alerts.get("scanner") == posted

    snoozed = store.alerts.save(
        replace(posted, status="snoozed", snoozed_until=clock.now() + timedelta(hours=1))
    )
    assert snoozed is not None and store.alerts.get("scanner") == snoozed
    store.alerts.save(AlertState(target="printer"))
    assert [a.target for a in store.alerts.list()] == ["printer", "scanner"]
    assert [a.target for a in store.alerts.list(statuses=["failing", "snoozed"])] == ["scanner"]
