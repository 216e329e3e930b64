"""/metrics: probe gauges read from the store at scrape time, the bot's counters, and the WSGI app."""

from __future__ import annotations

from datetime import timedelta

import pytest
from history_helpers import target
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client

from bot.clock import FakeClock
from bot.metrics import Metrics, metrics_app
from bot.store import Store

TARGETS = [target("scanner"), target("erp", auth="xoauth2"), target("copier")]
TOKEN = "scrape-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def scrape(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = Client(metrics_app(metrics, TOKEN)).get("/metrics", headers=BEARER)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def labels(name: str, **extra: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"target": name, "mailbox": f"{name}@contoso.com", **extra}.items()))


def test_probe_gauges_match_the_newest_stored_results(store: Store, clock: FakeClock) -> None:
    now = clock.now()
    store.probes.record("scanner", "scanner@contoso.com", False, at=now - timedelta(hours=2))
    store.probes.record(
        "scanner",
        "scanner@contoso.com",
        True,
        at=now - timedelta(minutes=5),
        latency_ms=420,
        tls_version="TLSv1.3",
        cert_days_left=60,
        auth_mode="basic",
    )
    store.probes.record(
        "erp", "erp@contoso.com", False, at=now, latency_ms=20_000, cause="timeout", auth_mode="oauth"
    )

    samples = scrape(Metrics(store, TARGETS, clock))
    scanner, erp, copier = labels("scanner"), labels("erp"), labels("copier")
    assert samples[("probe_success", scanner)] == 1 and samples[("probe_success", erp)] == 0
    assert (
        samples[("probe_duration_seconds", scanner)] == 0.42
        and samples[("probe_duration_seconds", erp)] == 20
    )
    assert (
        samples[("probe_ssl_earliest_cert_expiry", scanner)]
        == (now + timedelta(days=60, minutes=-5)).timestamp()
    )
    assert samples[("probe_tls_version_info", labels("scanner", version="TLSv1.3"))] == 1
    assert samples[("smtp_auth_probe_last_timestamp_seconds", erp)] == now.timestamp()
    assert samples[("smtp_auth_probe_availability_ratio", labels("scanner", window="24h"))] == 0.5
    assert samples[("smtp_auth_probe_availability_ratio", labels("erp", window="7d"))] == 0
    # Basic auth: from the results, and from the configuration for a target not probed yet.
    assert [samples[("smtp_auth_probe_basic_auth", t)] for t in (scanner, erp, copier)] == [1, 0, 1]
    # Nothing is made up for what was not measured.
    assert not any(key[1] == copier for key in samples if key[0] != "smtp_auth_probe_basic_auth")
    assert ("probe_ssl_earliest_cert_expiry", erp) not in samples
    assert not any(key[0] == "probe_tls_version_info" and dict(key[1])["target"] == "erp" for key in samples)


def test_each_scrape_reads_the_store_again(store: Store, clock: FakeClock) -> None:
    metrics = Metrics(store, TARGETS, clock)
    assert not any(name.startswith("probe_") for name, _ in scrape(metrics))
    store.probes.record("copier", "copier@contoso.com", True, at=clock.now(), latency_ms=250)
    assert scrape(metrics)[("probe_success", labels("copier"))] == 1


def test_counters_count_what_the_bot_did(store: Store, clock: FakeClock) -> None:
    metrics = Metrics(store, TARGETS, clock)
    assert scrape(metrics)[("smtp_auth_bot_requests_total", ())] == 0
    metrics.request()
    metrics.request()
    metrics.approval()
    metrics.denial()
    metrics.expiry(3)
    metrics.failed_change()
    samples = scrape(metrics)
    assert {
        name: samples[(f"smtp_auth_bot_{name}_total", ())]
        for name in ("requests", "approvals", "denials", "expiries", "failed_changes")
    } == {"requests": 2, "approvals": 1, "denials": 1, "expiries": 3, "failed_changes": 1}
    # Each Metrics has its own registry: a second one neither clashes nor shares counts.
    assert scrape(Metrics(store, TARGETS, clock))[("smtp_auth_bot_requests_total", ())] == 0


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 404),
        ("GET", "/metrics/extra", 404),
        ("POST", "/metrics", 405),
        ("GET", "/metrics/", 200),
    ],
)
def test_the_app_serves_only_get_metrics(
    store: Store, clock: FakeClock, method: str, path: str, status: int
) -> None:
    response = Client(metrics_app(Metrics(store, TARGETS, clock), TOKEN)).open(path, method=method, headers=BEARER)
    assert response.status_code == status


def test_head_and_mounting_under_a_dispatcher(store: Store, clock: FakeClock) -> None:
    app = metrics_app(Metrics(store, TARGETS, clock), TOKEN)
    head = Client(app).head("/metrics", headers=BEARER)
    assert head.status_code == 200 and head.get_data() == b"" and int(head.headers["Content-Length"]) > 0
    mounted = Client(app).get("", environ_overrides={"SCRIPT_NAME": "/metrics"}, headers=BEARER)
    assert mounted.status_code == 200 and b"smtp_auth_bot_requests_total 0.0" in mounted.get_data()


@pytest.mark.parametrize("authorization", [None, "", f"Bearer {TOKEN}x", f"bearer {TOKEN}", TOKEN,
                                           f"Bearer {TOKEN[:-1]}", "Basic c2NyYXBlOnRva2Vu"])
def test_metrics_need_the_bearer_token(store: Store, clock: FakeClock, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = Client(metrics_app(Metrics(store, TARGETS, clock), TOKEN)).get("/metrics", headers=headers)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"smtp_auth" not in response.get_data()
