"""What the sandbox saw: one small record per HTTP request, never a header, secret or assertion."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sandbox.wire import BatchItemSummary


@dataclass(frozen=True)
class RecordedRequest:
    """`service` is login, graph or exchange; `status` is 0 when the connection was dropped."""

    service: str
    method: str
    path: str
    query: dict[str, str]
    api_version: str | None
    cmdlet: str | None
    batch_items: tuple[BatchItemSummary, ...]
    status: int
    timestamp: datetime
    fault: str | None = None
    anchor_mailbox: str | None = None
    client_request_id: str | None = None
    host: str | None = None


class RequestLog:
    """An append-only, thread-safe list of `RecordedRequest`s."""

    def __init__(self) -> None:
        self._items: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def append(self, record: RecordedRequest) -> None:
        with self._lock:
            self._items.append(record)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._items)

    def for_service(self, service: str) -> list[RecordedRequest]:
        return [r for r in self.snapshot() if r.service == service]

    def count_by_service(self) -> Counter[str]:
        return Counter(r.service for r in self.snapshot())

    def __iter__(self) -> Iterator[RecordedRequest]:
        return iter(self.snapshot())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __getitem__(self, index: int) -> RecordedRequest:
        with self._lock:
            return self._items[index]
