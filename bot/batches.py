"""A bounded queue of background work, taken in batches by a fixed number of runner threads.

Diagnoses use it so that commands arriving together share one bulk read of Microsoft, a burst cannot grow
memory without bound, and only `runners` batches run at once, leaving the request threads and the click pool
free. Nothing here knows what the items are.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class BatchQueue(Generic[T]):
    """Items wait (at most `capacity`) until a runner takes up to `batch` of them for one `handle(items)` call.

    A runner waits until no item has arrived for `window` seconds (0: at once), so a burst is first queued
    (and acknowledged) whole, then handled in full batches; an item never waits longer than `max_hold` for the
    burst to end. `on_drained` is called once the queue has emptied after refusing an item, so the caller can
    bring back what it had to leave out.
    """

    def __init__(self, handle: Callable[[list[T]], None], *, capacity: int, runners: int, batch: int,
                 window: float = 0.0, max_hold: float = 2.0, name: str = "batch",
                 on_drained: Callable[[], None] = lambda: None) -> None:
        if capacity < 1 or runners < 1 or batch < 1 or window < 0 or max_hold < 0:
            raise ValueError("capacity, runners and batch must be at least 1, window and max_hold not negative")
        self._handle = handle
        self.capacity, self.runners, self.batch, self.window, self.max_hold = capacity, runners, batch, window, max_hold
        self._name = name
        self._on_drained = on_drained
        self._items: deque[tuple[float, T]] = deque()  # (arrival, item)
        self._last_arrival = 0.0
        self._running = 0
        self._refused = False
        self._stopping = False
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []

    def offer(self, item: T) -> int | None:
        """Queue `item`: its position among the waiting items (1 = taken next), or None when the queue is full."""
        with self._cond:
            if len(self._items) >= self.capacity or self._stopping:
                self._refused = True
                return None
            self._last_arrival = time.monotonic()
            self._items.append((self._last_arrival, item))
            self._cond.notify()
            return len(self._items)

    def waiting(self) -> int:
        with self._cond:
            return len(self._items)

    def busy(self) -> int:
        """Items waiting or being handled."""
        with self._cond:
            return len(self._items) + self._running

    def start(self) -> None:
        with self._cond:
            if self._threads:
                return
            self._threads = [threading.Thread(target=self._run, name=f"{self._name}-{n}", daemon=True)
                             for n in range(self.runners)]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Let the runners finish what is queued (each waits at most `timeout` seconds for that), then end them."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def _take(self) -> list[T] | None:
        with self._cond:
            while not self._items and not self._stopping:
                self._cond.wait()
            if not self._items:
                return None
            while self._items and not self._stopping:
                ready = min(self._last_arrival + self.window, self._items[0][0] + self.max_hold)
                left = ready - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            taken = [self._items.popleft()[1] for _ in range(min(self.batch, len(self._items)))]
            self._running += len(taken)
            return taken

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            if not taken:
                continue  # another runner took them while this one waited for the window
            try:
                self._handle(taken)
            except Exception:
                log.exception("%s: a batch of %d failed", self._name, len(taken))
            with self._cond:
                self._running -= len(taken)
                drained = self._refused and not self._items
                if drained:
                    self._refused = False
            if drained:
                try:
                    self._on_drained()
                except Exception:
                    log.exception("%s: bringing back refused work failed", self._name)
