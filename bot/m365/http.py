"""The one HTTP transport for Microsoft APIs: timeouts, a CA bundle, and retries that honour Retry-After."""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from bot.clock import SYSTEM_CLOCK, Clock
from bot.errors import Throttled, UpstreamError

log = logging.getLogger(__name__)

#: Statuses Microsoft documents as transient: throttling, overload, gateway timeouts, request timeout.
RETRY_STATUSES = frozenset({408, 429, 503, 504})
#: For reads, which change nothing when repeated: also a server error or a bad gateway (a mutation is not
#: repeated on those, since Microsoft may have made the change before it failed).
READ_RETRY_STATUSES = RETRY_STATUSES | {500, 502}


@dataclass
class Response:
    """A fully read response. `body` is None when the server declared an encoding it did not use."""

    status: int
    headers: dict[str, str]
    content: bytes | None
    url: str
    attempts: int = 1
    waits: list[float] = field(default_factory=list)
    client_request_id: str = ""

    @property
    def request_id(self) -> str:
        """Microsoft's id for this request (`request-id` header); support asks for it with client-request-id."""
        return self.header("request-id") or ""

    def json(self) -> Any:
        """The JSON body, or None for an empty, undecodable or non-JSON body."""
        if not self.content:
            return None
        try:
            return json.loads(self.content)
        except ValueError:
            return None

    @property
    def text(self) -> str:
        if self.content is None:
            return ""
        return self.content.decode("utf-8", "replace").strip("\x00").strip()

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


def parse_retry_after(value: str | None, clock: Clock = SYSTEM_CLOCK) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds (Graph sends fractions like 2.128) or a date."""
    if value is None or not str(value).strip():
        return None
    value = str(value).strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - clock.now()).total_seconds()
    return max(seconds, 0.0)


class _VerifyingSession(requests.Session):
    """A Session whose CA bundle wins over REQUESTS_CA_BUNDLE.

    requests lets REQUESTS_CA_BUNDLE override `Session.verify` when trust_env is on; passing `verify`
    on each request avoids that while keeping proxies from the environment. MSAL uses this session too.
    """

    def __init__(self, verify: str | bool, timeout: tuple[float, float]) -> None:
        super().__init__()
        self._verify = verify
        self._timeout = timeout

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("verify", self._verify)
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().request(method, url, *args, **kwargs)


#: Connections kept open per host: above the threads that may call Microsoft at once (listener pool,
#: workflow pool, scheduler), so concurrent calls reuse TLS connections instead of discarding them.
POOL_SIZE = 32


def make_session(ca_bundle: str | None, timeout: tuple[float, float]) -> requests.Session:
    session = _VerifyingSession(ca_bundle or True, timeout)
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class Transport:
    """Sends requests to one Microsoft service and survives its transient failures.

    Retries 408/429/503/504 (a caller passes READ_RETRY_STATUSES for reads), answers a caller's `retry_if` picks, and connection errors up to
    `max_attempts`, waiting what Retry-After asks (seconds, possibly fractional) or an exponential backoff
    with jitter; a wait longer than `max_wait` ends the retries at once with `Throttled`, so a caller is
    never parked for minutes. Every attempt carries a fresh `client-request-id` GUID (Graph and Exchange
    echo it; Microsoft support asks for it with the `request-id` response header).
    """

    def __init__(
        self,
        service: str,
        *,
        ca_bundle: str | None = None,
        timeout: tuple[float, float] = (10.0, 30.0),
        max_attempts: int = 4,
        max_wait: float = 60.0,
        backoff: float = 1.0,
        clock: Clock = SYSTEM_CLOCK,
        session: requests.Session | None = None,
    ) -> None:
        self.service = service
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.max_wait = max_wait
        self.backoff = backoff
        self.clock = clock
        self.session = session or make_session(ca_bundle, timeout)
        self._rng = random.Random()

    def backoff_delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter for the given (1-based) failed attempt."""
        ceiling = self.backoff * (2 ** (attempt - 1))
        return min(self.max_wait, ceiling / 2 + self._rng.uniform(0, ceiling / 2))

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        retry_statuses: frozenset[int] = RETRY_STATUSES,
        retry_if: Callable[[Response], bool] | None = None,
        allow_redirects: bool = True,
    ) -> Response:
        waits: list[float] = []
        for attempt in range(1, self.max_attempts + 1):
            last = attempt == self.max_attempts
            client_request_id = str(uuid.uuid4())
            sent = {**(headers or {}), "client-request-id": client_request_id}
            try:
                response = self._send_once(method, url, sent, json_body, params, allow_redirects)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if last:
                    raise UpstreamError(
                        self.service,
                        None,
                        f"no answer from {_host(url)} after {attempt} attempt(s) ({type(exc).__name__})",
                        hint="Check network access to Microsoft 365 (proxy, firewall, DNS) and try again.",
                        client_request_id=client_request_id,
                    ) from None
                wait = self.backoff_delay(attempt)
                log.warning("%s %s: %s, retrying in %.2fs (client-request-id %s)",
                            self.service, method, type(exc).__name__, wait, client_request_id)
            else:
                response.attempts, response.waits, response.client_request_id = attempt, waits, client_request_id
                if response.status not in retry_statuses and not (retry_if and retry_if(response)):
                    return response
                retry_after = parse_retry_after(response.header("Retry-After"), self.clock)
                wait = retry_after if retry_after is not None else self.backoff_delay(attempt)
                if last or wait > self.max_wait:
                    if response.status == 429 or retry_after is not None or response.status not in retry_statuses:
                        raise Throttled(self.service, retry_after, client_request_id=client_request_id,
                                        request_id=response.request_id)
                    return response
                log.warning(
                    "%s %s answered %s, attempt %d/%d, waiting %.2fs (client-request-id %s, request-id %s)",
                    self.service, method, response.status, attempt, self.max_attempts, wait,
                    client_request_id, response.request_id or "-",
                )
            waits.append(wait)
            self.clock.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        json_body: Any,
        params: dict[str, str] | None,
        allow_redirects: bool,
    ) -> Response:
        raw = self.session.request(
            method, url, headers=headers, json=json_body, params=params, stream=True, timeout=self.timeout,
            allow_redirects=allow_redirects,
        )
        try:
            try:
                content: bytes | None = raw.content
            except requests.exceptions.ContentDecodingError:
                # Exchange answers some 403s with NUL bytes declared as gzip; keep the status, drop the body.
                content = None
            except requests.exceptions.ChunkedEncodingError as exc:
                raise requests.ConnectionError(str(exc)) from None
            return Response(raw.status_code, dict(raw.headers), content, raw.url)
        finally:
            raw.close()


def _host(url: str) -> str:
    return url.split("/")[2] if "//" in url else url
