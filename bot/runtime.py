"""The composition root: build the store, Microsoft clients, workflow and Slack plumbing from configuration."""

from __future__ import annotations

import contextvars
import functools
import logging
import ssl
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.alerts.service import Alerting
from bot.batches import BatchQueue
from bot.clock import SYSTEM_CLOCK, Clock
from bot.config import AppConfig
from bot.errors import BotError
from bot.history import basic_auth_summary, target_statuses
from bot.m365.tenant import M365, app_tokens, connect
from bot.metrics import Metrics
from bot.probe import ProbeResult
from bot.probe.runner import Prober
from bot.readiness.model import DEFAULT_DAYS, AccountClass
from bot.scheduler import ProbeScheduler
from bot.slack.alert_delivery import AlertDelivery
from bot.slack.blocks.mrkdwn import local_time
from bot.slack.cards import Cards
from bot.slack.directory import UserGroups
from bot.slack.listeners.common import cannot_post
from bot.slack.notices import Notices
from bot.slack.outbox import Outbox
from bot.store import Store
from bot.workflow.claims import Claims
from bot.workflow.gate import GatePolicy
from bot.workflow.model import BOT_ACTOR, CLEANUP_KIND, ONBOARDING_PROBE, ChangeRequest
from bot.workflow.service import Workflow

log = logging.getLogger(__name__)
SLACK_API = "https://slack.com/api/"
STOP_SECONDS = 10.0

#: A queued diagnosis: the batch function (called with the runtime and a batch's items), the stored request's
#: id and what the function gets for it.
QueuedDiagnosis = tuple[Callable[[Any, list[Any]], None], str, Any]


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
    diagnoses: BatchQueue[QueuedDiagnosis] = field(init=False)
    sweep_seconds: float = 30.0
    #: counts of the last readiness report in this process (for /smtp-status), None until one ran
    last_readiness: dict[str, Any] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)  # stopping: no new sweeps
    _halt: threading.Event = field(default_factory=threading.Event)  # the sweeper's end: no more renewals either
    _busy: list[int] = field(default_factory=lambda: [0])
    _busy_lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)
    _queued: set[str] = field(default_factory=set)
    _refused: set[str] = field(default_factory=set)  # stored requests the full queue refused: in no queue at all
    _last_handed: float = float("-inf")

    def __post_init__(self) -> None:
        limits = self.cfg.server.diagnoses
        self.diagnoses = BatchQueue(self._diagnose_batch, capacity=limits.queue, runners=limits.at_once,
                                    batch=limits.batch, window=limits.window_ms / 1000,
                                    max_hold=limits.max_hold_ms / 1000, name="diagnosis",
                                    on_drained=self._bring_back)

    def queue_diagnosis(self, work: Callable[[Any, list[Any]], None], request_id: str, item: Any) -> int | None:
        """Queue a stored request for a batched diagnosis: `work(runtime, items)` later gets a whole batch's items.

        Its position among the waiting (1 = next), or None when the queue is full: the request stays stored
        in `diagnosing` and is diagnosed when the queue has room again (or by a sweep once a claim old).
        """
        with self._busy_lock:
            self._queued.add(request_id)
        position = self.diagnoses.offer((work, request_id, item))
        with self._busy_lock:
            if position is None:
                self._refused.add(request_id)
                self._queued.discard(request_id)
            else:
                self._refused.discard(request_id)
        if position is None:
            log.warning("diagnosis queue full (%d waiting): request %s stays stored for later",
                        self.diagnoses.capacity, request_id)
        return position

    def _diagnose_batch(self, batch: list[QueuedDiagnosis]) -> None:
        """Run one batch in the queue's runner thread: each function once, with its items in arrival order."""
        by_work: dict[Callable[[Any, list[Any]], None], list[Any]] = {}
        for work, _, item in batch:
            by_work.setdefault(work, []).append(item)
        try:
            for work, items in by_work.items():
                try:
                    work(self, items)
                except Exception:
                    log.exception("a batch of %d diagnoses failed", len(items))
        finally:
            with self._busy_lock:
                self._queued.difference_update(request_id for _, request_id, _ in batch)

    def _bring_back(self) -> None:
        """After the queue refused requests and has emptied: queue the stored `diagnosing` ones it refused, and
        those stored more than a claim's lifetime ago (as the sweep), not queued here.

        A younger request may wait, unclaimed, in another replica's queue: it is left to that replica. One taken
        twice anyway is planned once: planning is one conditional UPDATE.
        """
        with self._busy_lock:
            refused = set(self._refused)
        cutoff = self.clock.now() - self.workflow.claims.ttl
        waiting = self.workflow.waiting_diagnosis()
        old = self.workflow.waiting_diagnosis(stored_before=cutoff)
        with self._busy_lock:
            queued = set(self._queued)
            self._refused -= refused.difference(waiting)  # diagnosed meanwhile (a sweep): nothing to bring back
        for request_id in dict.fromkeys(old + [r for r in waiting if r in refused]):
            if request_id not in queued and self.queue_diagnosis(_resume, request_id, request_id) is None:
                return
    _orphans: threading.Lock = field(default_factory=threading.Lock)

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run slow work (Microsoft, SMTP, Slack calls) after the ack, on the bounded pool.

        The work runs in a copy of the caller's context, so its log lines keep the caller's request and user,
        and yields to a burst of requests first (`_after_burst`).
        """
        context = contextvars.copy_context()
        handed = self.clock.monotonic()

        def guarded() -> None:
            try:
                self._after_burst(handed)
                fn(*args)
            except Exception:
                log.exception("background work failed: %s", getattr(fn, "__name__", fn))
            finally:
                with self._busy_lock:
                    self._busy[0] -= 1
        with self._busy_lock:
            self._busy[0] += 1
            self._last_handed = handed
        self.pool.submit(context.run, guarded)

    def probe_onboarded(self, request: ChangeRequest) -> ProbeResult | None:
        """After an OAuth onboarding's last step is verified: the real XOAUTH2 probe of the configured target for
        that mailbox and app (`auth: xoauth2` with that `client_id`, or without one when the app is the bot's
        own), recorded, fed to the alerts and audited; None when no such target is configured."""
        app_id = str(request.options.get("app_id") or "").lower()
        target = onboarded_target(self.cfg.probes.targets, request.upn, app_id, str(self.cfg.m365.client_id or ""))
        if target is None:
            return None
        result = self.probe_now(target)
        self.store.requests.audit(BOT_ACTOR, ONBOARDING_PROBE, request_id=request.id, target=request.upn, detail={
            "probe_target": target.name, "app_id": app_id, "ok": result.ok, "cause": result.cause,
            "reply": result.reply.raw if result.reply else result.message})
        self.cards.refresh(request.id)  # the card shows the probe's result
        return result

    def _after_burst(self, handed: float) -> None:
        """Wait until no work has been handed over for `server.diagnoses.window_ms` (at most `max_hold_ms` after
        this work was): a burst of clicks is acknowledged first, then worked through, as diagnoses are."""
        limits = self.cfg.server.diagnoses
        while True:
            with self._busy_lock:
                last = self._last_handed
            left = min(last + limits.window_ms / 1000, handed + limits.max_hold_ms / 1000) - self.clock.monotonic()
            if left <= 0:
                return
            self.clock.sleep(left)

    def probe_now(self, target: Any) -> ProbeResult:
        """Probe one configured target at once (Probe now, /smtp-probe, the console) and feed the alerts."""
        [result] = self.prober.run([target])
        self.alerting.on_result(target, result)
        return result

    @property
    def probe_targets(self) -> Sequence[Any]:
        return self.cfg.probes.targets

    @property
    def busy_after(self) -> int:
        return self.cfg.server.diagnoses.busy_after

    @property
    def alert_channel(self) -> str | None:
        return self.cfg.slack.alert_channel

    def snooze(self, target: str, mailbox: str, actor: str, hours: int, *, incident: str | None = None,
               cause: str | None = None) -> datetime | None:
        """Silence the open incident of a target for `hours` (audited); the end, or None if nothing to snooze."""
        return self.alerting.snooze(target, mailbox, actor, hours, incident=incident, cause=cause)

    def unsnooze(self, target: str, mailbox: str, actor: str, *, incident: str | None = None,
                 cause: str | None = None) -> bool:
        """End a target's snooze (audited); False if none holds."""
        return self.alerting.unsnooze(target, mailbox, actor, incident=incident, cause=cause)

    def probe_statuses(self, upn: str | None = None) -> list[dict[str, Any]]:
        """Each configured target's state, availability and last result (only `upn`'s when given)."""
        statuses = target_statuses(self.store, self.cfg.probes.targets, self.clock.now())
        return [s.to_dict() for s in statuses if not upn or s.mailbox.lower() == upn]

    def basic_auth_summary(self) -> dict[str, Any] | None:
        """The Basic-auth retirement outlook of the configured targets; None without targets."""
        statuses = target_statuses(self.store, self.cfg.probes.targets, self.clock.now())
        summary = basic_auth_summary(statuses, self.clock.now()) if statuses else None
        last = self.last_readiness
        if last is None:
            return summary
        summary = summary or {"count": 0, "total": 0, "targets": [], "text": ""}
        # The report's time is shown in each reader's zone, so the Slack layer writes that sentence (`readiness`).
        return summary | {"readiness_basic": last["basic_in_use"] if last["read"] else None,
                          "text": summary["text"] if summary["count"] else "",
                          "readiness": {key: last[key] for key in ("at", "days", "read", "basic_in_use", "unknown")}}

    def readiness_report(self, days: int, progress: Callable[[str, int], None]) -> tuple[Any, str]:
        """The tenant's SMTP AUTH readiness (`bot.readiness`) over `days` days, and the same as CSV."""
        from bot.readiness.collect import build_report
        from bot.readiness.render import to_csv

        oauth = [str(t.mailbox) for t in self.cfg.probes.targets if t.auth == "xoauth2"]
        # The mailboxes the bot itself onboarded to OAuth (FullAccess included, which Exchange lists only per
        # mailbox): never "unused", so Close unused never proposes them.
        report = build_report(self.tenant(), days=days, now=self.clock.now(), oauth_mailboxes=oauth,
                              onboarded=self.workflow.onboarded_mailboxes(), progress=progress)
        counts = report.counts()
        self.last_readiness = {"at": report.generated_at, "days": days, "read": report.sign_ins.read,
                               "basic_in_use": counts[AccountClass.BASIC_IN_USE],
                               "unknown": counts[AccountClass.ENABLED_USAGE_UNKNOWN]}
        return report, to_csv(report)

    def close_unused(self, days: int, requester: str, channel: str, thread_ts: str | None = None) -> Any:
        """Run the readiness report again now and open the clean-up of what it finds unused (its card in
        `thread_ts` of `channel`, e.g. the report's thread): the mailboxes with SMTP AUTH on and no password
        sign-in in `days` days, and the organisation switch when no inheriting mailbox uses it. Nothing is taken
        from the caller but the period: values may have changed since an earlier report. InvalidInput when there
        is nothing to clean up (or the sign-in logs cannot be read, so nothing is known to be unused)."""
        import uuid

        from bot.errors import InvalidInput
        from bot.readiness.model import org_unused, unused_mailboxes

        lease, holder = f"close-unused:{channel}:{thread_ts}", uuid.uuid4().hex
        if thread_ts and (any(r.options.get("kind") == CLEANUP_KIND for r in self.workflow.started_in(
                channel, thread_ts)) or not self.store.leases.acquire(lease, holder, CLOSE_UNUSED_LEASE)):
            raise InvalidInput("A clean-up was already proposed from this report: its card is in this thread.",
                               hint="Run /smtp-readiness again for a fresh report.")
        try:
            report, _ = self.readiness_report(days, lambda phase, count: None)
            if not report.sign_ins.read:
                raise InvalidInput(f"Nothing is closed: {report.sign_ins.problem}", hint="Without the sign-in logs "
                                   "no mailbox is known to be unused.")
            return self.workflow.open_cleanup(unused_mailboxes(report), days, requester, channel,
                                              org_unused=org_unused(report), thread_ts=thread_ts)
        finally:  # the request (if any) now answers for this thread; a refusal leaves it free to try again
            if thread_ts:
                self.store.leases.release(lease, holder)

    def post_weekly_readiness(self) -> None:
        """The scheduled readiness report in the alert channel (`alerts.readiness_weekly`)."""
        from bot.slack.listeners.readiness import send_readiness

        channel = self.cfg.slack.alert_channel
        if channel:
            send_readiness(self, channel, "", DEFAULT_DAYS, lambda **kwargs: log.warning(
                "weekly readiness report: %s", kwargs.get("text")))

    def chart_png(self) -> bytes:
        """The 7-day availability and latency chart of the configured targets, as a PNG."""
        from bot.chart import availability_chart  # matplotlib loads only when a chart is asked for

        return availability_chart(self.store, self.cfg.probes.targets, self.clock.now())

    def idle(self) -> bool:
        """Nothing running or queued after an ack, in the workflow, or in the outbox (tests, the console)."""
        with self._busy_lock:
            busy = self._busy[0]
        return (busy == 0 and self.diagnoses.busy() == 0 and self.workflow.idle()
                and self.store.outbox.backlog() == 0)

    def start(self, *, scheduler: bool = True) -> None:
        """Settle what a crash left and diagnose the commands it left `diagnosing`, then deliver the outbox,
        expire stale approvals and (if targets are configured and `scheduler`) run the probe scheduler, all in
        the background. The sweep renews this process's claims and, as claims of dead processes run out,
        settles and resumes their work (`settle_orphans`). A recovery that fails is logged; the sweep tries again."""
        try:
            orphans = self.workflow.recover()
        except Exception:
            log.exception("start-up recovery failed; the sweep tries again")
            orphans = []
        for step_id in orphans:
            self.workflow.submit(step_id)
        self.diagnoses.start()
        # A request stored before this start is in no queue of this process; one younger than a claim's lifetime
        # may still wait in another replica's: left to it (the sweep takes it once it is that old).
        started = self.clock.now()
        self.submit(lambda: self.workflow.resume(
            stored_before=min(started, self.clock.now() - self.workflow.claims.ttl)))
        self.submit(self._warm_up)
        self.outbox.start()
        if scheduler and (self.cfg.probes.targets or self.cfg.alerts.readiness_weekly):
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
            try:
                for step_id in self.workflow.recover():
                    self.workflow.submit(step_id)
            except Exception:
                log.exception("settling orphaned steps failed; resuming orphaned requests all the same")
            try:
                self.workflow.resume(stored_before=self.clock.now() - self.workflow.claims.ttl)
            except Exception:
                log.exception("resuming orphaned requests failed; the next sweep tries again")
        finally:
            self._orphans.release()

    def _sweep(self) -> None:
        """Renew this process's claims, expire stale approvals and settle orphans; once stopping, only renew."""
        period = min(self.sweep_seconds, self.workflow.claims.ttl.total_seconds() / 3)
        while not self._halt.wait(period):
            stopping = self._stop.is_set()
            for work in [self.workflow.claims.renew] + ([] if stopping else [self.workflow.expire_due]):
                try:
                    work()
                except Exception:
                    log.exception("sweep failed: %s", work.__name__)
            if not stopping and not self._orphans.locked():
                try:
                    self.submit(self.settle_orphans)
                except RuntimeError:  # the pool shut down meanwhile: stop() has begun
                    log.info("no sweep handed on: the bot is stopping")

    def stop(self) -> None:
        """Stop taking work and wait for what runs; the claims of running work are renewed until it has finished."""
        self._stop.set()
        self.scheduler.stop()
        self.outbox.stop()
        self.diagnoses.stop(timeout=STOP_SECONDS)  # what is still queued is stored: a sweep resumes it
        self.pool.shutdown(wait=True)
        self.workflow.close()
        self._halt.set()  # nothing runs any more: the sweeper may stop renewing
        for thread in self._threads:
            thread.join(timeout=STOP_SECONDS)
        self.store.close()


@functools.cache
def slack_tls() -> ssl.SSLContext:
    """The one TLS context of every Slack Web API call in this process (system CAs, loaded once).

    Without it slack_sdk's urllib makes a new context and reloads the CA store for every call.
    """
    return ssl.create_default_context()


def _resume(runtime: Runtime, request_ids: list[str]) -> None:
    """Diagnose stored requests the queue once had to refuse; each card says how it went."""
    runtime.workflow.resume(request_ids)


def slack_client(cfg: AppConfig) -> WebClient:
    token = cfg.slack.bot_token.get_secret_value() if cfg.slack.bot_token else None
    return WebClient(
        token=token,
        base_url=str(cfg.slack.api_url) if cfg.slack.api_url else SLACK_API,
        timeout=10,
        ssl=slack_tls(),
        retry_handlers=[ConnectionErrorRetryHandler(), RateLimitErrorRetryHandler(max_retry_count=2)],
    )


def onboarded_target(targets: Sequence[Any], upn: str, app_id: str, bot_app_id: str) -> Any | None:
    """The xoauth2 probe target whose token comes from `app_id` and which signs in as `upn`, or None."""
    for target in targets:
        own = str(getattr(target, "client_id", None) or bot_app_id).lower()
        if target.auth == "xoauth2" and target.mailbox.lower() == upn.lower() and own == app_id:
            return target
    return None


#: How long one Close unused click holds its report card while the report runs again (two clicks open one clean-up).
CLOSE_UNUSED_LEASE = timedelta(minutes=10)


def _used_since(m365: M365, upns: list[str], since: datetime) -> set[str]:
    """The clean-up's last look before it writes: which of `upns` used SMTP AUTH since `since` (sign-in logs)."""
    from bot.readiness.collect import used_since

    return used_since(m365, upns, since)


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
    outbox_client = WebClient(token=slack.token, base_url=slack.base_url, timeout=10, ssl=slack.ssl,
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
                        on_event=lambda event: counters[event](), bulk_batch=cfg.m365.bulk_batch_size,
                        bulk_concurrency=cfg.m365.bulk_concurrency, claims=Claims(store.leases, claim),
                        show_time=local_time, used_since=_used_since,
                        undeliverable=lambda channel: cannot_post(slack, channel))
    app_tokens_lock, device_apps = threading.Lock(), {}

    def app_token(client_id: str, secret: str) -> str:
        """A token for a probe target's own app (the device's), one MSAL app per client id."""
        with app_tokens_lock:
            if client_id not in device_apps:
                device_apps[client_id] = app_tokens(cfg.m365, client_id, secret)
            provider = device_apps[client_id]
        return provider.token(cfg.m365.exchange_scope)

    cards = Cards(workflow, outbox_client, outbox, store.leases, clock=clock, post_lease=claim)
    workflow.on_change = cards.refresh
    Notices(workflow, outbox_client, outbox, store.leases, clock=clock)
    prober = Prober(cfg.probes, store, lambda: tenant().tokens.token(cfg.m365.exchange_scope), clock=clock,
                    app_token=app_token)
    alerting = Alerting(store, outbox, cfg.alerts, cfg.slack.alert_channel, clock=clock,
                        is_approver=workflow.is_approver)
    AlertDelivery(alerting, outbox_client, outbox, cfg.slack.alert_channel, snooze_hours=alerting.snooze_hours,
                  clock=clock, plans=workflow.started_in)
    cards.on_thread_post = alerting.plan_posted  # a plan posted in an alert's thread: the alert links it
    weekly: list[Callable[[], None]] = []
    scheduler = ProbeScheduler(cfg.probes, store, prober, alerting.on_result, clock=clock,
                               retention=timedelta(days=cfg.alerts.history_retention_days),
                               weekly=(lambda: weekly[0]()) if cfg.alerts.readiness_weekly else None)
    runtime = Runtime(cfg, clock, store, workflow, slack, outbox, cards, groups,
                      ThreadPoolExecutor(max_workers=8, thread_name_prefix="slack-work"), prober, alerting, scheduler,
                      metrics, tenant)
    weekly.append(runtime.post_weekly_readiness)
    workflow.on_onboarded = runtime.probe_onboarded
    return runtime
