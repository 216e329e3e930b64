"""Group commit for arriving commands: concurrent callers share one transaction, each waiting for its own row.

A burst of slash commands would otherwise be a burst of write transactions (SQLite's one write lock, a
PostgreSQL round trip and commit each) on the request threads. The first caller to find no write under way
leads: it stores every command waiting at that moment in one transaction, wakes their callers with their ids,
and hands the lead to a caller that arrived meanwhile. No thread of its own; nothing is acknowledged before
its row is committed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta

from bot.store.requests import Incoming, RequestStore


@dataclass
class _Slot:
    command: Incoming
    ttl: timedelta
    ready: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    done: bool = False
    request_id: str | None = None
    error: BaseException | None = None


class Intake:
    """`receive` as `RequestStore.receive`, committed together with the commands arriving alongside."""

    def __init__(self, requests: RequestStore) -> None:
        self._requests = requests
        self._lock = threading.Lock()
        self._waiting: list[_Slot] = []
        self._writing = False

    def waiting(self) -> int:
        """Commands waiting for the next transaction."""
        with self._lock:
            return len(self._waiting)

    def receive(self, command: Incoming, ttl: timedelta) -> str | None:
        """The new request's id once committed, None for a redelivery; the database's error if it failed."""
        slot = _Slot(command, ttl)
        with self._lock:
            self._waiting.append(slot)
            if not self._writing:
                self._writing = slot.lead = True
        if not slot.lead:
            slot.ready.wait()
        if not slot.done:  # handed the lead: its own command is still waiting
            self._write()
        if slot.error is not None:
            raise slot.error
        return slot.request_id

    def _write(self) -> None:
        with self._lock:
            group, self._waiting = self._waiting, []
        try:
            for ttl in dict.fromkeys(s.ttl for s in group):
                same = [s for s in group if s.ttl == ttl]
                for slot, request_id in zip(same, self._requests.receive_many([s.command for s in same], ttl),
                                            strict=True):
                    slot.request_id = request_id
        except Exception as exc:  # noqa: BLE001 - every caller of the failed transaction raises it
            for slot in group:
                slot.error = slot.error or exc
        finally:
            with self._lock:
                for slot in group:
                    slot.done = True
                    slot.ready.set()
                if self._waiting:
                    successor = self._waiting[0]
                    successor.lead = True
                    successor.ready.set()
                else:
                    self._writing = False
