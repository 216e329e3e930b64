"""Which process works on a request or a step: a named lease per item, renewed while the process lives.

A request being diagnosed (`request:{id}`) and a step being applied or undone (`step:{id}`) are claimed by this
process's `owner`. `renew()` (the runtime's heartbeat) pushes the expiry of every claim still held or staked (an
approval's claim on the step it hands on, until the thread running it holds it); a process
that dies stops renewing, its claims run out after `ttl`, and only then may another replica's sweep resume or
settle the item (`take_over`). So a live replica's work is never re-diagnosed or settled under it.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Protocol

log = logging.getLogger(__name__)


class Leases(Protocol):
    """Named leases (`Store.leases`)."""

    def acquire(self, name: str, holder: str, ttl: timedelta) -> bool: ...
    def renew(self, name: str, holder: str, ttl: timedelta) -> bool: ...
    def release(self, name: str, holder: str) -> bool: ...
    def holder(self, name: str) -> str | None: ...


def request_claim(request_id: str) -> str:
    return f"request:{request_id}"


def step_claim(step_id: int) -> str:
    return f"step:{step_id}"


class Claims:
    """This process's claims. Thread-safe: one thread of the process holds a name at a time."""

    def __init__(self, leases: Leases, ttl: timedelta = timedelta(seconds=30), owner: str | None = None) -> None:
        self.leases = leases
        self.ttl = ttl
        self.owner = owner or uuid.uuid4().hex
        self._busy: set[str] = set()  # names a thread of this process is taking or holds
        self._held: set[str] = set()  # names it holds (renewed)
        self._staked: dict[str, int] = {}  # names staked for work handed on, not held yet (renewed), by stakes
        self._lock = threading.Lock()

    def stake(self, name: str) -> bool:
        """Claim `name` for the work this process is about to hand on (no thread holds it yet).

        Renewed like a held claim until a thread of this process holds it (`hold`), or `unstake` says that work
        will not come; so an approved step waiting for the pool is never settled under it as stopped.
        """
        if not self.leases.acquire(name, self.owner, self.ttl):
            return False
        with self._lock:
            self._staked[name] = self._staked.get(name, 0) + 1
        return True

    def unstake(self, name: str) -> None:
        """Stop renewing a stake whose work will not be handed on. Not released: another thread of this process
        may have staked it too, for work it does hand on; the claim runs out by itself after `ttl`."""
        with self._lock:
            left = self._staked.pop(name, 0) - 1
            if left > 0:
                self._staked[name] = left

    @contextmanager
    def hold(self, name: str) -> Iterator[bool]:
        """Yield whether this thread now holds `name` (free, run out, or staked by this process); released after."""
        with self._take(name, lambda: self.leases.acquire(name, self.owner, self.ttl)) as mine:
            yield mine

    @contextmanager
    def take_over(self, name: str) -> Iterator[bool]:
        """Like `hold`, but only when no live process (this one included) has claimed `name`: recovery's way in.

        A live claim is seen before this thread marks `name` busy, so a sweep never keeps out the thread of this
        process that staked it and is about to hold it.
        """
        if self.leases.holder(name) is not None:
            yield False
            return
        with self._take(name, lambda: self.leases.holder(name) is None
                        and self.leases.acquire(name, self.owner, self.ttl)) as mine:
            yield mine

    @contextmanager
    def _take(self, name: str, acquire: Callable[[], bool]) -> Iterator[bool]:
        with self._lock:
            taken = name in self._busy
            self._busy.add(name)
        if taken:
            yield False
            return
        mine = False
        try:
            mine = bool(acquire())
            if mine:
                with self._lock:
                    self._held.add(name)
                    self._staked.pop(name, None)  # the work it was staked for is here: held from now on
            yield mine
        finally:
            with self._lock:
                self._busy.discard(name)
                self._held.discard(name)
            if mine:
                self._release(name)

    def _release(self, name: str) -> None:
        try:
            self.leases.release(name, self.owner)
        except Exception:  # the claim then runs out by itself after `ttl`
            log.warning("could not release claim %s; it runs out by itself", name, exc_info=True)

    def renew(self) -> int:
        """Push the expiry of every claim this process holds or has staked; how many were renewed.

        Each claim is renewed on its own: one that fails is logged and the others still are. A stake that can no
        longer be renewed (it ran out, another process took it) is forgotten.
        """
        with self._lock:
            names = sorted(self._held | self._staked.keys())
        renewed = 0
        for name in names:
            try:
                mine = self.leases.renew(name, self.owner, self.ttl)
            except Exception:
                log.warning("could not renew claim %s; renewing the others", name, exc_info=True)
                continue
            renewed += bool(mine)
            if not mine:
                with self._lock:
                    if name not in self._held:
                        self._staked.pop(name, None)
        return renewed
