"""Prometheus metrics: probe state read from the store at scrape time, bot counters, a /metrics app."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector

from bot.clock import SYSTEM_CLOCK, Clock
from bot.history import target_statuses
from bot.store import Store

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
LABELS = ("target", "mailbox")


class ProbeCollector(Collector):
    """The newest probe of each configured target, blackbox_exporter style, read when Prometheus scrapes.

    The store is shared, so every replica reports the same values. Targets without any probe are left out.
    """

    def __init__(self, store: Store, targets: Sequence[Any], clock: Clock = SYSTEM_CLOCK) -> None:
        self.store, self.targets, self.clock = store, targets, clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        success = _gauge("probe_success", "Whether the newest probe succeeded (1) or failed (0).")
        duration = _gauge("probe_duration_seconds", "How long the newest probe took, in seconds.")
        expiry = _gauge(
            "probe_ssl_earliest_cert_expiry",
            "When the server certificate expires, unix time (to the day: probes store days left).",
        )
        tls = _gauge("probe_tls_version_info", "The TLS version the newest probe negotiated.", ("version",))
        basic = _gauge(
            "smtp_auth_probe_basic_auth", "Whether the target signs in with Basic auth (1) or OAuth (0)."
        )
        last = _gauge("smtp_auth_probe_last_timestamp_seconds", "When the newest probe ran, unix time.")
        availability = _gauge(
            "smtp_auth_probe_availability_ratio",
            "Fraction of probes that succeeded over the window.",
            ("window",),
        )
        for status in target_statuses(self.store, self.targets, self.clock.now()):
            labels = [status.target, status.mailbox]
            if status.auth_mode is not None:
                basic.add_metric(labels, float(status.auth_mode == "basic"))
            for window, ratio in (("24h", status.availability_24h), ("7d", status.availability_7d)):
                if ratio is not None:
                    availability.add_metric([*labels, window], ratio)
            if status.at is None:
                continue
            success.add_metric(labels, float(bool(status.ok)))
            last.add_metric(labels, status.at.timestamp())
            if status.latency_ms is not None:
                duration.add_metric(labels, status.latency_ms / 1000)
            if status.cert_expires_at is not None:
                expiry.add_metric(labels, status.cert_expires_at.timestamp())
            if status.tls_version:
                tls.add_metric([*labels, status.tls_version], 1.0)
        yield from (success, duration, expiry, tls, basic, last, availability)


def _gauge(name: str, documentation: str, extra: tuple[str, ...] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=[*LABELS, *extra])


class Metrics:
    """The bot's own registry: probe gauges from the store plus counters the workflow increments.

    Counters count what this process saw since it started; Prometheus sums replicas and handles restarts.
    """

    def __init__(self, store: Store, targets: Sequence[Any], clock: Clock = SYSTEM_CLOCK) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(ProbeCollector(store, targets, clock))
        self.requests = self._counter("smtp_auth_bot_requests", "Change requests planned.")
        self.approvals = self._counter("smtp_auth_bot_approvals", "Steps approved.")
        self.denials = self._counter("smtp_auth_bot_denials", "Steps denied.")
        self.expiries = self._counter("smtp_auth_bot_expiries", "Steps expired without a decision.")
        self.failed_changes = self._counter("smtp_auth_bot_failed_changes", "Approved changes that failed.")
        self.outbox_deaths = Counter("smtp_auth_bot_outbox_dead", "Slack messages the outbox gave up on.", ["kind"],
                                     registry=self.registry)

    def _counter(self, name: str, documentation: str) -> Counter:
        return Counter(name, documentation, registry=self.registry)

    def request(self) -> None:
        self.requests.inc()

    def approval(self) -> None:
        self.approvals.inc()

    def denial(self) -> None:
        self.denials.inc()

    def expiry(self, count: int = 1) -> None:
        """`count` steps expired (`Store.expire_due` returns them in batches)."""
        self.expiries.inc(count)

    def failed_change(self) -> None:
        self.failed_changes.inc()

    def outbox_dead(self, kind: str) -> None:
        """The outbox gave up on an item of `kind` (card, alert)."""
        self.outbox_deaths.labels(kind=kind).inc()

    def exposition(self) -> bytes:
        """Everything in the registry in the Prometheus text format 0.0.4."""
        return generate_latest(self.registry)


def metrics_app(metrics: Metrics, token: str) -> WSGIApp:
    """A WSGI app answering GET (or HEAD) /metrics to `Authorization: Bearer <token>` (compared in constant
    time; 401 without it); mount it alone or under a dispatcher at /metrics."""
    expected = f"Bearer {token}".encode()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).rstrip("/")
        method = environ.get("REQUEST_METHOD", "GET")
        if path != "/metrics":
            return _plain(start_response, "404 Not Found", b"Not found; try /metrics\n")
        if not hmac.compare_digest(environ.get("HTTP_AUTHORIZATION", "").encode(), expected):
            return _plain(start_response, "401 Unauthorized", b"Bearer token required\n",
                          [("WWW-Authenticate", 'Bearer realm="metrics"')])
        if method not in ("GET", "HEAD"):
            return _plain(start_response, "405 Method Not Allowed", b"Use GET\n", [("Allow", "GET, HEAD")])
        body = metrics.exposition()
        start_response(
            "200 OK",
            [
                ("Content-Type", CONTENT_TYPE_PLAIN_0_0_4),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [b"" if method == "HEAD" else body]

    return app


def _plain(
    start_response: Callable[..., Any], status: str, body: bytes, headers: list[tuple[str, str]] | None = None
) -> list[bytes]:
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *(headers or [])],
    )
    return [body]
