"""Injectable time: production uses the system clock, tests a FakeClock they advance by hand."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


def utc_text(moment: datetime) -> str:
    """A time as plain text in UTC, e.g. "2026-11-28 09:22 UTC" (Slack mrkdwn wraps it in a date token)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


class Clock:
    """Wall time and sleeping, behind one seam."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock(Clock):
    """A clock that only moves when told to; `sleep` advances it and records the wait."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
        self._mono = 1000.0
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(seconds, 0.0))


SYSTEM_CLOCK = Clock()
