"""Faults the Slack stand-in injects: rate limits, status codes, latency, drops, error answers."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from sandbox.faults import RuleBook

FAULT_KINDS = ("ratelimited", "status", "latency", "drop", "error")


@dataclass
class SlackFaultRule:
    """Which calls it hits and what it does.

    `method` is an fnmatch pattern on the method name (`chat.postMessage`, `chat.*`; `response_url` and
    `upload_url` for those endpoints; None: every call). `times` is how many calls it fires for (None:
    always). Kinds: `ratelimited` (HTTP 429, `Retry-After: retry_after`, error `ratelimited`), `status`
    (HTTP `status` with error `error` or `internal_error`), `latency` (sleep `seconds`, then answer
    normally), `drop` (close the connection without an answer) and `error` (HTTP 200, `ok: false`, `error`).
    """

    kind: str
    method: str | None = None
    times: int | None = 1
    retry_after: str = "1"
    status: int = 503
    error: str | None = None
    seconds: float = 0.0
    id: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}, not {self.kind!r}")
        if self.kind == "error" and not self.error:
            raise ValueError("an 'error' fault needs error='<slack error code>'")
        self.retry_after = str(self.retry_after)

    def matches(self, method: str) -> bool:
        return (self.times is None or self.fired < self.times) and (
            self.method is None or fnmatch.fnmatchcase(method, self.method)
        )


class SlackFaults(RuleBook[SlackFaultRule]):
    """The active fault rules. Safe to use from several threads."""

    def add(self, kind: str, **match: Any) -> SlackFaultRule:
        """Add a rule, e.g. `add(method="chat.postMessage", kind="ratelimited", retry_after="1", times=1)`."""
        return self._add(SlackFaultRule(kind, **match))

    def take(self, method: str) -> SlackFaultRule | None:
        """The first rule matching this call, counted as fired; None when no rule matches."""
        with self._lock:
            return self._fire(lambda r: r.matches(method))
