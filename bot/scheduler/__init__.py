"""Scheduled probes: APScheduler 3 in every process, and a database lease so exactly one process probes.

Each configured target gets a job with a fixed id (`probe:<name>`, `replace_existing`), coalescing,
`max_instances=1` and a misfire grace time; start times are spread over the interval so a thousand
targets do not fire in the same second. A lease job renews the `scheduler` lease every third of
`probes.lease_seconds`; when the holder dies its lease runs out and another process takes over within
two lease periods. A target probed less than half an interval ago (for example by the previous
holder just before it died, or by "Probe now") is skipped, so each target is probed once per interval.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from bot.clock import SYSTEM_CLOCK, Clock
from bot.probe import ProbeResult
from bot.probe.runner import Prober, find_target
from bot.store import Store

log = logging.getLogger(__name__)
LEASE = "scheduler"

#: Called with the target's configuration and its fresh result (the alert engine).
ResultHandler = Callable[[Any, ProbeResult], None]


class ProbeScheduler:
    def __init__(self, probes_cfg: Any, store: Store, prober: Prober, on_result: ResultHandler, *,
                 clock: Clock = SYSTEM_CLOCK, holder: str | None = None, retention: timedelta | None = None,
                 weekly: Callable[[], None] | None = None) -> None:
        self.cfg = probes_cfg
        self.store = store
        self.prober = prober
        self.on_result = on_result
        self.clock = clock
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.retention = retention
        self.weekly = weekly
        self.lease = timedelta(seconds=float(probes_cfg.lease_seconds))
        self.leader = False
        self.scheduler: BackgroundScheduler | None = None

    # The two jobs, callable directly (tests drive them with a fake clock) ----------------------------
    def renew_lease(self) -> bool:
        """Take or renew the lease; returns whether this process is the one that probes."""
        try:
            leader = self.store.leases.acquire(LEASE, self.holder, self.lease)
        except Exception:
            log.exception("lease renewal failed")
            leader = False
        if leader != self.leader:
            log.info("probe scheduler %s: %s the lease", self.holder, "took" if leader else "lost")
        self.leader = leader
        return leader

    def probe_target(self, name: str) -> ProbeResult | None:
        """Probe one target if this process holds the lease and the target is due; feed the alert engine."""
        if not self.leader:
            return None
        target = find_target(self.cfg.targets, name)
        if target is None:
            return None
        interval = timedelta(minutes=float(target.interval_minutes or self.cfg.interval_minutes))
        if self.store.probes.history(name, since=self.clock.now() - interval / 2):
            return None  # probed recently (by the previous leader or on demand)
        [result] = self.prober.run([target])
        self.on_result(target, result)
        return result

    def weekly_report(self) -> bool:
        """The weekly job (`alerts.readiness_weekly`): only the lease holder posts it, so replicas post once."""
        if not self.leader or self.weekly is None:
            return False
        self.weekly()
        return True

    def housekeeping(self) -> None:
        if self.leader and self.retention is not None:
            purged = self.store.probes.purge(self.retention)
            if purged:
                log.info("purged %d probe results older than %s", purged, self.retention)

    # APScheduler ------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.scheduler is not None:
            return
        scheduler = BackgroundScheduler(
            timezone="UTC",
            executors={"default": ThreadPoolExecutor(max_workers=self.cfg.max_concurrency)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        )
        renew_every = max(self.lease.total_seconds() / 3, 0.2)
        scheduler.add_job(self.renew_lease, "interval", seconds=renew_every, id="lease", replace_existing=True,
                          next_run_time=self.clock.now())
        scheduler.add_job(self.housekeeping, "interval", hours=1, id="housekeeping", replace_existing=True)
        if self.weekly is not None:
            scheduler.add_job(self.weekly_report, "cron", day_of_week="mon", hour=8, id="readiness-weekly",
                              replace_existing=True, misfire_grace_time=3600)
        for target in self.cfg.targets:
            minutes = float(target.interval_minutes or self.cfg.interval_minutes)
            scheduler.add_job(self.probe_target, "interval", minutes=minutes, args=[target.name],
                              id=f"probe:{target.name}", replace_existing=True,
                              next_run_time=self.clock.now() + spread(target.name, minutes))
        scheduler.start()
        self.scheduler = scheduler

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        if self.leader:
            self.store.leases.release(LEASE, self.holder)
            self.leader = False


def spread(name: str, minutes: float) -> timedelta:
    """A stable offset within the first interval, so targets' probes do not all start together."""
    fraction = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return timedelta(minutes=minutes * fraction)
