"""Deliver Slack messages that must not be lost: stored first, sent by a worker, retried on 429/5xx/network.

Producers call `Outbox.enqueue(kind, payload, dedupe_key)`; a worker thread in every process claims due
items (`Store.outbox.claim_due`, so two replicas never send the same item), hands each to the sender registered
for its kind and records the outcome. A 429 waits what `Retry-After` says and is no failed attempt; 5xx and
network errors back off exponentially up to `MAX_BACKOFF`; an item a crashed process had claimed comes back after
the claim lease. Nothing is given up on for a count of attempts: an item still failing `give_up` after it was
queued goes `dead`, logged and counted (`on_dead`), and a later enqueue under its dedupe key revives it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.clock import SYSTEM_CLOCK, Clock
from bot.errors import RetryLater

log = logging.getLogger(__name__)

#: A sender delivers one item and returns what to record (e.g. the message ts); raise to retry.
Sender = Callable[[dict[str, Any]], dict[str, Any] | None]


class Item(Protocol):
    """A queued Slack call as the queue hands it out (`bot.store.OutboxItem`)."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...
    @property
    def attempts(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...


class Queue(Protocol):
    """The durable queue behind the outbox (`Store.outbox`)."""

    def enqueue(self, kind: str, payload: dict[str, Any], dedupe_key: str | None = None) -> int: ...
    def claim_due(self, limit: int, lease: timedelta) -> Sequence[Item]: ...
    def mark_delivered(self, item_id: int, result: dict[str, Any] | None = None) -> bool: ...
    def mark_retry(self, item_id: int, error: str, next_attempt_at: datetime, *, counted: bool = True) -> bool: ...
    def mark_dead(self, item_id: int, error: str) -> bool: ...
    def revive(self, dedupe_key: str) -> bool: ...


#: Slack errors that no retry will fix.
PERMANENT_ERRORS = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "invalid_blocks", "invalid_auth", "account_inactive",
    "token_revoked", "no_permission", "missing_scope", "message_not_found", "cant_update_message",
    "msg_too_long", "no_text", "invalid_arguments",
})


#: The longest wait between two attempts after 5xx or network errors.
MAX_BACKOFF = 300.0


class Outbox:
    def __init__(self, queue: Queue, *, clock: Clock = SYSTEM_CLOCK, give_up: timedelta = timedelta(hours=24),
                 claim_lease: timedelta = timedelta(seconds=60), poll_seconds: float = 0.5,
                 max_backoff: float = MAX_BACKOFF) -> None:
        self.queue = queue
        self.max_backoff = max_backoff
        self.clock = clock
        self.give_up = give_up
        self.on_dead: Callable[[str], None] = lambda kind: None
        self.claim_lease = claim_lease
        self.poll_seconds = poll_seconds
        self.senders: dict[str, Sender] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self, kind: str, sender: Sender) -> None:
        self.senders[kind] = sender

    def enqueue(self, kind: str, payload: dict[str, Any], dedupe_key: str | None = None) -> int:
        item_id = self.queue.enqueue(kind, payload, dedupe_key)
        self._wake.set()
        return item_id

    def deliver_due(self, limit: int = 20) -> int:
        """Deliver what is due now; returns how many items were handled (delivered, retried or dead)."""
        items = self.queue.claim_due(limit, self.claim_lease)
        for item in items:
            self._deliver(item)
        return len(items)

    def _deliver(self, item: Item) -> None:
        sender = self.senders.get(item.kind)
        if sender is None:
            self._dead(item, f"no sender for kind {item.kind!r}")
            return
        try:
            result = sender(item.payload)
        except RetryLater as exc:
            self._retry(item, str(exc), exc.after, count=False)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "")) if exc.response is not None else ""
            status = exc.response.status_code if exc.response is not None else 0
            if status == 429:
                self._retry(item, "ratelimited", _retry_after(exc), count=False)
            elif status >= 500 or error in ("", "internal_error", "fatal_error", "service_unavailable",
                                            "request_timeout"):
                self._retry(item, f"Slack {status} {error}", self._backoff(item))
            elif error in PERMANENT_ERRORS:
                self._dead(item, error)
            else:
                self._retry(item, error, self._backoff(item))
        except (SlackClientError, OSError) as exc:
            self._retry(item, f"{type(exc).__name__}: {exc}", self._backoff(item))
        except Exception as exc:
            log.exception("outbox item %s (%s) failed", item.id, item.kind)
            self._retry(item, f"{type(exc).__name__}", self._backoff(item))
        else:
            self.queue.mark_delivered(item.id, result or {})

    def revive(self, dedupe_key: str) -> bool:
        """Queue the dead item under `dedupe_key` again (e.g. the opening message an update needs)."""
        revived = self.queue.revive(dedupe_key)
        if revived:
            log.warning("outbox item %s revived", dedupe_key)
            self._wake.set()
        return revived

    def _backoff(self, item: Item) -> float:
        return min(self.max_backoff, 2.0 ** max(0, item.attempts - 1))

    def _retry(self, item: Item, error: str, after: float, *, count: bool = True) -> None:
        now = self.clock.now()
        if now - item.created_at >= self.give_up:
            self._dead(item, f"still failing after {self.give_up}: {error}")
            return
        self.queue.mark_retry(item.id, error, now + timedelta(seconds=after), counted=count)

    def _dead(self, item: Item, error: str) -> None:
        log.error("outbox item %s (%s) given up after %d attempts: %s", item.id, item.kind, item.attempts, error)
        if self.queue.mark_dead(item.id, error):
            self.on_dead(item.kind)

    # Background worker -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="outbox", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.deliver_due()
            except Exception:
                log.exception("outbox delivery round failed")
                busy = 0
            if not busy:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def _retry_after(exc: SlackApiError) -> float:
    """Seconds a 429 asks to wait (1 when the header is missing or unreadable)."""
    try:
        return max(0.0, float(exc.response.headers.get("Retry-After", "1") or 1))
    except ValueError:
        return 1.0
