"""The composition root: build the store, Microsoft clients, workflow and Slack plumbing from configuration."""

from __future__ import annotations

import contextvars
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.alerts.service import Alerting
from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import AppConfig
from bot.errors import BotError
from bot.history import basic_auth_summary, target_statuses
from bot.m365.tenant import M365, connect
from bot.metrics import Metrics
from bot.probe import ProbeResult
from bot.probe.runner import Prober
from bot.scheduler import ProbeScheduler
from bot.slack.alert_delivery import AlertDelivery
from bot.slack.cards import Cards
from bot.slack.directory import UserGroups
from bot.slack.outbox import Outbox
from bot.store import Store
from bot.workflow.claims import Claims
from bot.workflow.gate import GatePolicy
from bot.workflow.service import Workflow

log = logging.getLogger(__name__)
SLACK_API = "https://slack.com/api/"
ONCE_TTL = timedelta(hours=1)


@dataclass
class Runtime:
    """Everything a running bot process shares. Build with `build_runtime`, then `start()`."""

    cfg: AppConfig
    clock: Clock
    store: Store
    workflow: Workflow
    slack: WebClient
    outbox: Outbox
    cards: Cards
    groups: UserGroups
    pool: ThreadPoolExecutor
    prober: Prober
    alerting: Alerting
    scheduler: ProbeScheduler
    metrics: Metrics
    tenant: Callable[[], M365]
    sweep_seconds: float = 30.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _busy: list[int] = field(default_factory=lambda: [0])
    _busy_lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)
    _orphans: threading.Lock = field(default_factory=threading.Lock)

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run slow work (Microsoft, SMTP, Slack calls) after the ack, on the bounded pool.

        The work runs in a copy of the caller's context, so its log lines keep the caller's request and user.
        """
        context = contextvars.copy_context()

        def guarded() -> None:
            try:
                fn(*args)
            except Exception:
                log.exception("background work failed: %s", getattr(fn, "__name__", fn))
            finally:
                with self._busy_lock:
                    self._busy[0] -= 1
        with self._busy_lock:
            self._busy[0] += 1
        self.pool.submit(context.run, guarded)

    def probe_now(self, target: Any) -> ProbeResult:
        """Probe one configured target at once (Probe now, /smtp-probe, the console) and feed the alerts."""
        [result] = self.prober.run([target])
        self.alerting.on_result(target, result)
        return result

    @property
    def probe_targets(self) -> Sequence[Any]:
        return self.cfg.probes.targets

    @property
    def alert_channel(self) -> str | None:
        return self.cfg.slack.alert_channel

    def snooze(self, target: str, mailbox: str, actor: str, hours: int) -> datetime | None:
        """Silence the open incident of a target for `hours` (audited); the end, or None if nothing to snooze."""
        return self.alerting.snooze(target, mailbox, actor, hours)

    def unsnooze(self, target: str, mailbox: str, actor: str) -> bool:
        """End a target's snooze (audited); False if none holds."""
        return self.alerting.unsnooze(target, mailbox, actor)

    def probe_statuses(self, upn: str | None = None) -> list[dict[str, Any]]:
        """Each configured target's state, availability and last result (only `upn`'s when given)."""
        statuses = target_statuses(self.store, self.cfg.probes.targets, self.clock.now())
        return [s.to_dict() for s in statuses if not upn or s.mailbox.lower() == upn]

    def basic_auth_summary(self) -> dict[str, Any] | None:
        """The Basic-auth retirement outlook of the configured targets; None without targets."""
        statuses = target_statuses(self.store, self.cfg.probes.targets, self.clock.now())
        return basic_auth_summary(statuses, self.clock.now()) if statuses else None

    def chart_png(self) -> bytes:
        """The 7-day availability and latency chart of the configured targets, as a PNG."""
        from bot.chart import availability_chart  # matplotlib loads only when a chart is asked for

        return availability_chart(self.store, self.cfg.probes.targets, self.clock.now())

    def once(self, key: str | None) -> bool:
        """True once per key across every replica (a database lease), so a redelivered command runs once."""
        if not key:
            return True
        return self.store.leases.acquire(f"once:{key}", uuid.uuid4().hex, ONCE_TTL)

    def idle(self) -> bool:
        """Nothing running or queued after an ack, in the workflow, or in the outbox (tests, the console)."""
        with self._busy_lock:
            busy = self._busy[0]
        return busy == 0 and self.workflow.idle() and self.store.outbox.backlog() == 0

    def start(self, *, scheduler: bool = True) -> None:
        """Settle what a crash left and diagnose the commands it left `diagnosing`, then deliver the outbox,
        expire stale approvals and (if targets are configured and `scheduler`) run the probe scheduler, all in
        the background. The sweep renews this process's claims and, as claims of dead processes run out,
        settles and resumes their work (`settle_orphans`)."""
        for step_id in self.workflow.recover():
            self.workflow.submit(step_id)
        self.submit(self.workflow.resume)
        self.submit(self._warm_up)
        self.outbox.start()
        if scheduler and self.cfg.probes.targets:
            self.scheduler.start()
        sweeper = threading.Thread(target=self._sweep, name="expiry-sweeper", daemon=True)
        sweeper.start()
        self._threads.append(sweeper)

    def _warm_up(self) -> None:
        """Build the MSAL app and fetch both tokens now, so the first /smtp-enable does not pay for it."""
        m365 = self.tenant()
        for scope in (self.cfg.m365.graph_scope, self.cfg.m365.exchange_scope):
            try:
                m365.tokens.token(scope)
            except BotError as exc:
                log.warning("could not get a token for %s yet: %s", scope, exc.describe())

    def settle_orphans(self) -> None:
        """Settle steps and resume requests whose claims ran out (their process died or lost the database)."""
        if not self._orphans.acquire(blocking=False):
            return  # the previous round is still reading Microsoft back
        try:
            for step_id in self.workflow.recover():
                self.workflow.submit(step_id)
            self.workflow.resume()
        finally:
            self._orphans.release()

    def _sweep(self) -> None:
        period = min(self.sweep_seconds, self.workflow.claims.ttl.total_seconds() / 3)
        while not self._stop.wait(period):
            for work in (self.workflow.claims.renew, self.workflow.expire_due):
                try:
                    work()
                except Exception:
                    log.exception("sweep failed: %s", work.__name__)
            if not self._orphans.locked():
                self.submit(self.settle_orphans)

    def stop(self) -> None:
        self._stop.set()
        self.scheduler.stop()
        self.outbox.stop()
        self.pool.shutdown(wait=True)
        self.workflow.close()
        self.store.close()


def slack_client(cfg: AppConfig) -> WebClient:
    token = cfg.slack.bot_token.get_secret_value() if cfg.slack.bot_token else None
    return WebClient(
        token=token,
        base_url=str(cfg.slack.api_url) if cfg.slack.api_url else SLACK_API,
        timeout=10,
        retry_handlers=[ConnectionErrorRetryHandler(), RateLimitErrorRetryHandler(max_retry_count=2)],
    )


def build_runtime(cfg: AppConfig, *, clock: Clock = SYSTEM_CLOCK, m365: M365 | None = None,
                  migrate: bool = True) -> Runtime:
    """Wire the process. No network I/O happens here except the database migration."""
    store = Store(cfg.database.url, clock=clock)
    if migrate:
        store.migrate()
    lock = threading.Lock()
    clients: list[M365] = [m365] if m365 is not None else []

    def tenant() -> M365:
        with lock:
            if not clients:
                clients.append(connect(cfg.m365, clock=clock))
            return clients[0]

    slack = slack_client(cfg)
    # The outbox retries Slack's 429s itself (durably), so its client must not sleep on them.
    outbox_client = WebClient(token=slack.token, base_url=slack.base_url, timeout=10,
                              retry_handlers=[ConnectionErrorRetryHandler()])
    claim = timedelta(seconds=cfg.database.claim_seconds)
    # An item a dead process was sending comes back after twice a claim (60 s by default): longer than a send.
    outbox = Outbox(store.outbox, clock=clock, give_up=timedelta(hours=cfg.slack.outbox_give_up_hours),
                    max_backoff=cfg.slack.outbox_max_backoff_seconds, claim_lease=2 * claim)
    groups = UserGroups(slack, clock=clock)
    metrics = Metrics(store, cfg.probes.targets, clock)
    outbox.on_dead = metrics.outbox_dead
    counters = {"request": metrics.request, "approval": metrics.approval, "denial": metrics.denial,
                "expiry": metrics.expiry, "failed_change": metrics.failed_change}
    workflow = Workflow(store, tenant, GatePolicy.from_config(cfg.slack), clock=clock, members=groups.members,
                        on_event=lambda event: counters[event](),
                        claims=Claims(store.leases, claim))
    cards = Cards(workflow, outbox_client, outbox, store.leases, clock=clock, post_lease=claim)
    workflow.on_change = cards.refresh
    prober = Prober(cfg.probes, store, lambda: tenant().tokens.token(cfg.m365.exchange_scope), clock=clock)
    alerting = Alerting(store, outbox, cfg.alerts, cfg.slack.alert_channel, clock=clock,
                        is_approver=workflow.is_approver)
    AlertDelivery(alerting, outbox_client, outbox, cfg.slack.alert_channel, snooze_hours=alerting.snooze_hours,
                  clock=clock)
    scheduler = ProbeScheduler(cfg.probes, store, prober, alerting.on_result, clock=clock,
                               retention=timedelta(days=cfg.alerts.history_retention_days))
    return Runtime(cfg, clock, store, workflow, slack, outbox, cards, groups,
                   ThreadPoolExecutor(max_workers=8, thread_name_prefix="slack-work"), prober, alerting, scheduler, metrics, tenant)
