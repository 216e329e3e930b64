"""The probe scheduler: only the lease holder probes, takeover within two lease periods, once per interval."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from bot.config import load_config, with_overrides
from bot.probe.runner import Prober
from bot.scheduler import ProbeScheduler, spread
from bot.store import Store

ROOT_APP = "app.yaml"
LEASE = 30.0


@pytest.fixture
def probes_cfg(sandbox):
    target = {"name": "printer", "mailbox": "printer@contoso.com", "password": "Printer-Sandbox-1"}
    cfg = with_overrides(load_config(ROOT_APP, env={}), {"probes": {
        "smtp_host": "localhost", "port": sandbox.smtp.port, "ca_bundle": str(sandbox.ca_path), "timeout_seconds": 5,
        "interval_minutes": 5, "lease_seconds": LEASE, "targets": [target]}})
    return cfg.probes


@pytest.fixture
def store(db_url, clock):
    store = Store(db_url, clock=clock)
    store.migrate()
    yield store
    store.close()


def make(probes_cfg, store, clock, results, name):
    prober = Prober(probes_cfg, store, lambda: "unused", clock=clock)
    return ProbeScheduler(probes_cfg, store, prober, lambda target, result: results.append((name, result)),
                          clock=clock, holder=name)


def test_only_the_lease_holder_probes_and_a_standby_takes_over(probes_cfg, store, clock, sandbox):
    results: list = []
    a, b = make(probes_cfg, store, clock, results, "a"), make(probes_cfg, store, clock, results, "b")
    assert a.renew_lease() and not b.renew_lease()
    assert b.probe_target("printer") is None
    assert a.probe_target("printer").ok
    assert [name for name, _ in results] == ["a"]

    # a dies after its last renewal; b keeps trying every third of a lease period.
    died_at = clock.now()
    while not b.renew_lease():
        clock.advance(LEASE / 3)
    assert clock.now() - died_at <= timedelta(seconds=2 * LEASE)
    assert not a.renew_lease()  # a comes back: it is a standby now


def test_each_target_is_probed_once_per_interval_across_leaders(probes_cfg, store, clock, sandbox):
    results: list = []
    a, b = make(probes_cfg, store, clock, results, "a"), make(probes_cfg, store, clock, results, "b")
    a.renew_lease()
    assert a.probe_target("printer") is not None
    clock.advance(LEASE + 1)
    assert b.renew_lease()
    assert b.probe_target("printer") is None  # a probed it a minute ago: not due in this interval
    clock.advance(5 * 60)
    assert b.probe_target("printer") is not None
    assert [name for name, _ in results] == ["a", "b"]
    assert len(sandbox.smtp.sessions) == 2


def test_unknown_target_and_spread():
    assert timedelta(0) <= spread("printer", 5) < timedelta(minutes=5)
    assert spread("printer", 5) == spread("printer", 5) != spread("scanner", 5)


def test_apscheduler_runs_the_jobs(sandbox, tmp_path):
    target = {"name": "printer", "mailbox": "printer@contoso.com", "password": "Printer-Sandbox-1",
              "interval_minutes": 0.005}
    cfg = with_overrides(load_config(ROOT_APP, env={}), {"probes": {
        "smtp_host": "localhost", "port": sandbox.smtp.port, "ca_bundle": str(sandbox.ca_path),
        "timeout_seconds": 5, "lease_seconds": 0.6, "targets": [target]}})
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    store.migrate()
    results: list = []
    two_probes = threading.Event()

    def on_result(target: object, result: object) -> None:
        results.append(result)
        if len(results) >= 2:
            two_probes.set()

    scheduler = ProbeScheduler(cfg.probes, store, Prober(cfg.probes, store, lambda: ""), on_result)
    scheduler.start()
    scheduler.start()  # idempotent: still one job per fixed id
    job_ids = sorted(job.id for job in scheduler.scheduler.get_jobs())
    try:
        two_probes.wait(timeout=10)
    finally:
        scheduler.stop()
        store.close()
    assert len(results) >= 2 and all(r.ok for r in results)
    assert job_ids == ["housekeeping", "lease", "probe:printer"]


def test_the_weekly_readiness_report_is_posted_by_the_lease_holder_only(probes_cfg, store, clock):
    posted: list[str] = []
    prober = Prober(probes_cfg, store, lambda: "unused", clock=clock)
    a, b = (ProbeScheduler(probes_cfg, store, prober, lambda t, r: None, clock=clock, holder=name,
                           weekly=lambda name=name: posted.append(name)) for name in ("a", "b"))
    assert a.renew_lease() and not b.renew_lease()
    assert a.weekly_report() and not b.weekly_report()
    assert posted == ["a"]
    idle = ProbeScheduler(probes_cfg, store, prober, lambda t, r: None, clock=clock, holder="a")
    idle.renew_lease()
    assert not idle.weekly_report()  # alerts.readiness_weekly off: no job, nothing posted
