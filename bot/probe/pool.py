"""`probe_many()`: probes in a thread pool, never more than a few connections to one mailbox at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import chain, zip_longest

from bot.clock import SYSTEM_CLOCK, Clock
from bot.probe.client import probe
from bot.probe.model import Credential, ProbeResult, ProbeTarget

EXCHANGE_CONNECTIONS_PER_MAILBOX = 3
"""Exchange Online refuses a 4th concurrent SMTP AUTH connection to a mailbox (432 4.3.2 thread limit)."""


class MailboxLimiter:
    """One semaphore per mailbox (case-insensitive). Share one between overlapping `probe_many` calls."""

    def __init__(self, per_mailbox: int = EXCHANGE_CONNECTIONS_PER_MAILBOX) -> None:
        if per_mailbox < 1:
            raise ValueError("per_mailbox must be at least 1")
        self.per_mailbox = per_mailbox
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}

    def slot(self, mailbox: str) -> threading.BoundedSemaphore:
        """The mailbox's semaphore; `with limiter.slot(mailbox):` holds one of its connections."""
        with self._lock:
            return self._slots.setdefault(mailbox.lower(), threading.BoundedSemaphore(self.per_mailbox))


def probe_many(
    targets: Sequence[ProbeTarget],
    *,
    credential_for: Callable[[ProbeTarget], Credential],
    max_concurrency: int = 20,
    per_mailbox: int = EXCHANGE_CONNECTIONS_PER_MAILBOX,
    limiter: MailboxLimiter | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> list[ProbeResult]:
    """Probe every target, results in the order of `targets`.

    `credential_for(target)` gives each probe its credential (a callable is only called when that probe runs).
    At most `max_concurrency` probes run at once and at most `per_mailbox` against one mailbox (`limiter`
    takes precedence when given, so concurrent calls sharing it stay under the limit together). Targets are
    started round-robin across mailboxes, so workers rarely wait on a busy mailbox while others could run.
    """
    limiter = limiter or MailboxLimiter(per_mailbox)
    by_mailbox: dict[str, list[int]] = {}
    for index, target in enumerate(targets):
        by_mailbox.setdefault(target.mailbox.lower(), []).append(index)
    order = [i for i in chain.from_iterable(zip_longest(*by_mailbox.values())) if i is not None]

    def run(index: int) -> ProbeResult:
        target = targets[index]
        with limiter.slot(target.mailbox):
            return probe(target, credential=credential_for(target), clock=clock)

    with ThreadPoolExecutor(max_workers=max(1, max_concurrency), thread_name_prefix="probe") as pool:
        results = dict(zip(order, pool.map(run, order), strict=True))
    return [results[index] for index in range(len(targets))]
