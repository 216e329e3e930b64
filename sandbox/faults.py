"""Fault injection for the sandbox: rules that make matching requests slow, fail, break or vanish."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from bot.clock import Clock
from sandbox.wire import (
    EXCHANGE_THROTTLED,
    Call,
    Reply,
    entra_error,
    exchange_error,
    graph_error,
    graph_throttled,
    nul_403,
    reason,
)

R = TypeVar("R")  # a rule: a dataclass with `id` and `fired`

KINDS = ("status", "latency", "malformed", "nul403", "drop", "redirect", "concurrency", "barrier")
#: Both names the sandbox certificate covers: a redirect from one to the other reaches a second host.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1")
SERVICES = ("login", "graph", "exchange")
ODATA_EXCEPTION = "Microsoft.Exchange.Admin.OData.Core.ODataServiceException"
MALFORMED_BODY = b'{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users", "value": [{"id": "'


@dataclass
class FaultRule:
    """What to match (every given field must match) and what to do.

    `path` is a regular expression searched in the request path (for Graph batch items, the item's
    path with its version prefix, e.g. `/v1.0/users/x`). `identity` matches an Exchange cmdlet's -Identity
    (case-insensitive), to fail one mailbox of many. `times` is how many matches it fires for
    (None: always). Kinds: `status` (with `status`, optional `retry_after` header value and `body`),
    `latency` (sleep `seconds`, then answer normally), `malformed` (200 with truncated JSON),
    `nul403` (403, gzip-declared NUL bytes), `drop` (close the connection without a response),
    `redirect` (302 with Location: the same path and query on the other loopback host name, as Exchange
    sends some tenants to a tenant-specific host) and `concurrency` (Exchange's "maximum number of
    concurrent requests per tenant" error, with `status`). With `apply_first` the service handles the
    request before the fault answers ("apply then fail"): the change is made, the caller sees the failure.
    `barrier` holds each of `parties` matching requests until all of them have arrived, then lets them proceed
    (proof that a client sends them at once); a request still alone after `seconds` gets `status` instead.
    """

    kind: str
    service: str | None = None
    method: str | None = None
    path: str | None = None
    cmdlet: str | None = None
    identity: str | None = None
    in_batch: bool | None = None
    times: int | None = 1
    status: int = 503
    retry_after: str | None = None
    body: Any = None
    seconds: float = 0.0
    apply_first: bool = False
    parties: int = 2
    id: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.service is not None and self.service not in SERVICES:
            raise ValueError(f"fault service must be one of {', '.join(SERVICES)}, not {self.service!r}")
        if self.path is not None:
            re.compile(self.path)
        if self.retry_after is not None:
            self.retry_after = str(self.retry_after)
        if self.kind == "barrier":
            self.times = self.parties
        self._barrier = threading.Barrier(max(self.parties, 1))

    def matches(self, service: str, method: str, path: str, cmdlet: str | None, in_batch: bool,
                identity: str | None = None) -> bool:
        return (
            (self.times is None or self.fired < self.times)
            and self.service in (None, service)
            and (self.method is None or self.method.upper() == method.upper())
            and (self.path is None or re.search(self.path, path) is not None)
            and (self.cmdlet is None or (cmdlet or "").lower() == self.cmdlet.lower())
            and (self.identity is None or (identity or "").lower() == self.identity.lower())
            and self.in_batch in (None, in_batch)
        )

    def answer(self, service: str, call: Call, now: datetime, handle: Callable[[], Reply]) -> Reply:
        """The reply to a matching request; `handle` has the service answer it (first, with `apply_first`)."""
        handled = handle() if self.apply_first else None
        reply = self.respond(service, call, now)
        if reply is not None:
            return reply
        return handled if handled is not None else handle()

    def respond(self, service: str, call: Call, now: datetime) -> Reply | None:
        """The reply this fault stands in for; None for latency, after which the request proceeds."""
        if self.kind == "latency":
            time.sleep(self.seconds)
            return None
        if self.kind == "barrier":
            try:
                self._barrier.wait(timeout=self.seconds or None)
                return None
            except threading.BrokenBarrierError:
                return _status_reply(service, self.status, call, now)
        if self.kind == "drop":
            return Reply(0, drop=True)
        if self.kind == "nul403":
            return nul_403()
        if self.kind == "malformed":
            return Reply(200, MALFORMED_BODY, {"Content-Type": "application/json"})
        if self.kind == "redirect":
            return Reply(302, b"", {"Location": _other_host(call)})
        if self.kind == "concurrency":
            return exchange_error(self.status, reason(self.status).replace(" ", ""), ODATA_EXCEPTION, EXCHANGE_THROTTLED)
        reply = (
            Reply(self.status, self.body)
            if self.body is not None
            else _status_reply(service, self.status, call, now)
        )
        if self.retry_after is not None:
            reply.headers["Retry-After"] = self.retry_after
        return reply


@dataclass(frozen=True)
class FiredFault:
    rule_id: int
    kind: str
    service: str
    method: str
    path: str
    in_batch: bool
    timestamp: datetime


class RuleBook(Generic[R]):
    """Numbered rules, added and removed at run time, the first match fired and counted. Thread-safe."""

    def __init__(self) -> None:
        self.rules: list[R] = []
        self._lock = threading.Lock()
        self._next_id = 1

    def _add(self, rule: R) -> R:
        with self._lock:
            rule.id, self._next_id = self._next_id, self._next_id + 1
            self.rules.append(rule)
        return rule

    def remove(self, rule_id: int) -> bool:
        with self._lock:
            kept = [r for r in self.rules if r.id != rule_id]
            removed, self.rules = len(kept) != len(self.rules), kept
        return removed

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def _fire(self, matches: Callable[[R], bool]) -> R | None:
        """The first rule that `matches`, counted as fired (under the lock); None when none does."""
        rule = next((r for r in self.rules if matches(r)), None)
        if rule is not None:
            rule.fired += 1
        return rule


class FaultSet(RuleBook[FaultRule]):
    """The active fault rules and a log of every time one fired. Safe to use from several threads."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.fired: list[FiredFault] = []

    def add(self, kind: str, **match: Any) -> FaultRule:
        """Add a rule, e.g. `add("status", service="graph", status=429, retry_after="0.5")`."""
        return self._add(FaultRule(kind, **match))

    def add_json(self, data: Any) -> FaultRule:
        """Add a rule from its JSON form (the control plane's); ValueError on unknown or missing keys."""
        allowed = {f.name for f in fields(FaultRule)} - {"id", "fired"}
        if not isinstance(data, dict) or "kind" not in data or set(data) - allowed:
            raise ValueError(
                f"a fault is a JSON object with 'kind' and optionally {sorted(allowed - {'kind'})}"
            )
        try:
            return self.add(**data)
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    def clear(self) -> None:
        super().clear()
        with self._lock:
            self.fired.clear()

    def take(
        self, service: str, method: str, path: str, cmdlet: str | None = None, in_batch: bool = False,
        identity: str | None = None,
    ) -> FaultRule | None:
        """The first rule matching this request, counted as fired; None when no rule matches."""
        with self._lock:
            rule = self._fire(lambda r: r.matches(service, method, path, cmdlet, in_batch, identity))
            if rule is not None:
                self.fired.append(
                    FiredFault(rule.id, rule.kind, service, method, path, in_batch, self.clock.now())
                )
            return rule

    def as_json(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(r) for r in self.rules]


def _other_host(call: Call) -> str:
    scheme, rest = call.base_url.split("://", 1)
    host, _, port = rest.rpartition(":")
    other = LOOPBACK_HOSTS[1] if host == LOOPBACK_HOSTS[0] else LOOPBACK_HOSTS[0]
    query = f"?{urlencode(call.query, safe='$,')}" if call.query else ""
    return f"{scheme}://{other}:{port}{call.path}{query}"


def _status_reply(service: str, status: int, call: Call, now: datetime) -> Reply:
    code = reason(status).replace(" ", "").replace("-", "")
    if service == "graph":
        return (
            graph_throttled(call, now)
            if status == 429
            else graph_error(call, now, status, code, reason(status))
        )
    if service == "exchange":
        text = EXCHANGE_THROTTLED if status == 429 else reason(status)
        return exchange_error(status, code, ODATA_EXCEPTION, text)
    return entra_error(
        now, status, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again."
    )
