"""Readiness: whether this process can do its work, judged from the database, the probe lease and the outbox."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from bot.clock import Clock
from bot.config.sections import ReadinessConfig
from bot.scheduler import LEASE
from bot.store import Store

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

#: How long an outbox item given up on counts against readiness.
DEAD_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Readiness:
    """The checks behind /readyz. `lease` is the probe lease's length when probes are configured, else None."""

    store: Store
    limits: ReadinessConfig
    clock: Clock
    lease: timedelta | None = None

    @classmethod
    def of(cls, runtime: Runtime) -> Readiness:
        """A runtime's checks; the probe lease counts only when there are targets to probe."""
        probes = runtime.cfg.probes
        lease = timedelta(seconds=probes.lease_seconds) if probes.targets else None
        return cls(runtime.store, runtime.cfg.server.readiness, runtime.clock, lease)

    def report(self) -> dict[str, Any]:
        """Each check's value and limit; `failing` names those that fail (all but `database` need it)."""
        try:
            checks = self._checks(self.clock.now())
        except SQLAlchemyError as exc:
            log.warning("readiness: the database is unreachable (%s)", type(exc).__name__)
            checks = {"database": {"ok": False}}
        failing = [name for name, check in checks.items() if not check["ok"]]
        return {"ready": not failing, "failing": failing, "checks": checks}

    def _checks(self, now: datetime) -> dict[str, dict[str, Any]]:
        limits = self.limits
        checks = {
            "database": {"ok": True},
            "outbox_backlog": _within(self.store.outbox.backlog(), limits.outbox_max_backlog),
            "outbox_oldest_age_seconds": _within(_age(now, self.store.outbox.oldest()) or 0,
                                                 limits.outbox_max_age_seconds),
            "outbox_dead": _within(self.store.outbox.dead_since(now - DEAD_WINDOW), limits.outbox_max_dead),
        }
        if self.lease is not None:
            expires = self.store.leases.expires_at(LEASE)
            renewed = expires - self.lease if expires is not None else None
            checks["probe_lease_age_seconds"] = _within(_age(now, renewed), limits.probe_lease_max_age_seconds)
        return checks


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else round((now - then).total_seconds(), 1)


def _within(value: float | None, limit: float) -> dict[str, Any]:
    """A check: `value` (None: never happened) against its `limit`."""
    return {"ok": value is not None and value <= limit, "value": value, "limit": limit}
