"""Probing configured targets: build the probe, supply its credential, and record the result in the store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bot.clock import SYSTEM_CLOCK, Clock
from bot.probe.model import ProbeResult, ProbeTarget
from bot.probe.pool import MailboxLimiter, probe_many

if TYPE_CHECKING:
    from bot.store import Store


def find_target(targets: Sequence[Any], name_or_mailbox: str) -> Any | None:
    """The configured target whose name or mailbox (in any case) is `name_or_mailbox` lower-cased, or None."""
    wanted = name_or_mailbox.strip().lower()
    return next((t for t in targets if t.name == wanted or t.mailbox.lower() == wanted), None)


class Prober:
    """Runs probes for `probes.targets` entries with bounded concurrency and records each result."""

    def __init__(self, probes_cfg: Any, store: Store, token: Callable[[], str], *, clock: Clock = SYSTEM_CLOCK,
                 limiter: MailboxLimiter | None = None, app_token: Callable[[str, str], str] | None = None) -> None:
        self.cfg = probes_cfg
        self.store = store
        self.token = token
        self.app_token = app_token  # (client id, secret) -> token: a target's own app (client_id in app.yaml)
        self.clock = clock
        self.limiter = limiter or MailboxLimiter(probes_cfg.per_mailbox_connections)

    def credential(self, target: ProbeTarget) -> Callable[[], str] | str | None:
        configured = find_target(self.cfg.targets, target.name)
        if target.auth == "xoauth2":
            if configured is not None and getattr(configured, "client_id", None) and self.app_token is not None:
                client_id, secret = str(configured.client_id), configured.client_secret.get_secret_value()
                return lambda: self.app_token(client_id, secret)  # type: ignore[misc]
            return self.token
        return configured.password.get_secret_value() if configured and configured.password else None

    def run(self, targets: Sequence[Any]) -> list[ProbeResult]:
        probe_targets = [ProbeTarget.from_config(t, self.cfg) for t in targets]
        results = probe_many(probe_targets, credential_for=self.credential, max_concurrency=self.cfg.max_concurrency,
                             per_mailbox=self.cfg.per_mailbox_connections, limiter=self.limiter, clock=self.clock)
        for result in results:
            self.record(result)
        return results

    def record(self, result: ProbeResult) -> None:
        reply = result.reply
        self.store.probes.record(
            result.name, result.mailbox, result.ok, at=result.started_at, phase=result.phase, cause=result.cause,
            code=reply.code if reply else None, enhanced_status=reply.enhanced_status if reply else None,
            reply=reply.raw if reply else result.message, latency_ms=round(result.duration_ms),
            timings=result.timings_ms, tls_version=result.tls_version, cert_days_left=result.cert_days_left,
            auth_mode=result.auth_mode,
        )
