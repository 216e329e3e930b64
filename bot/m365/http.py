"""The one HTTP transport for Microsoft APIs: timeouts, a CA bundle, and retries that honour Retry-After.

Connections are cheap: one TLS context per CA bundle, proxies read once, keep-alive pools per session.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import random
import ssl
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.util.ssl_ import create_urllib3_context

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


class ProxyEnvironment:
    """HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY as read once, when the session is made.

    requests reads the environment (and re-parses NO_PROXY) on every call when `trust_env` is on; the
    session turns that off and asks this instead, with the same semantics: a NO_PROXY entry matches
    the host, a domain suffix (with or without a leading dot) or, for an IP address, a CIDR range.
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        found = _environment_proxies(environ)
        self.no_proxy = [e.strip().lower() for e in found.pop("no", "").split(",") if e.strip()]
        self.proxies = found
        self._by_host: dict[str, dict[str, str]] = {}

    def for_url(self, url: str) -> dict[str, str]:
        """The proxies for `url` (requests' `proxies` mapping); empty when none applies."""
        if not self.proxies:
            return {}
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        key = f"{host}:{parts.port}" if parts.port else host
        if key not in self._by_host:
            self._by_host[key] = {} if self._bypass(host, parts.port) else dict(self.proxies)
        return self._by_host[key]

    def _bypass(self, host: str, port: int | None) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        for entry in self.no_proxy:
            if entry == "*":
                return True
            if address is not None and "/" in entry:
                try:
                    if address in ipaddress.ip_network(entry, strict=False):
                        return True
                except ValueError:
                    continue
            name = entry.lstrip(".")
            with_port = f"{host}:{port}" if port else host
            if host == name or with_port == name or host.endswith("." + name) or with_port.endswith("." + name):
                return True
        return False


def _environment_proxies(environ: Mapping[str, str]) -> dict[str, str]:
    """urllib's `getproxies_environment()` (lower case wins; HTTP_PROXY ignored under CGI), from a mapping."""
    proxies: dict[str, str] = {}
    for name, value in environ.items():
        if value and name[-6:].lower() == "_proxy":
            proxies[name[:-6].lower()] = value
    if "REQUEST_METHOD" in environ:
        proxies.pop("http", None)
    for name, value in environ.items():
        if name[-6:] == "_proxy":
            if value:
                proxies[name[:-6].lower()] = value
            else:
                proxies.pop(name[:-6].lower(), None)
    return proxies


_contexts: dict[str, ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def ssl_context(ca_bundle: str) -> ssl.SSLContext:
    """The one TLS client context for a CA bundle (file or directory), built and loaded once per process.

    requests would otherwise build a context and load the bundle for every new connection.
    """
    key = os.path.realpath(ca_bundle)
    with _contexts_lock:
        context = _contexts.get(key)
        if context is None:
            context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
            if os.path.isdir(key):
                context.load_verify_locations(capath=key)
            else:
                context.load_verify_locations(cafile=key)
            _contexts[key] = context
        return context


class _SharedContextAdapter(requests.adapters.HTTPAdapter):
    """Connection pools (direct and through a proxy) that all use one preloaded SSLContext."""

    def __init__(self, context: ssl.SSLContext, **kwargs: Any) -> None:
        self._context = context
        super().__init__(**kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, ssl_context=self._context, **pool_kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        return super().proxy_manager_for(proxy, ssl_context=self._context, **proxy_kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # The context holds the CA bundle and always verifies; a ca_certs path here would make urllib3
        # load the bundle into it again on every new connection.
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = conn.ca_cert_dir = None


class _Session(requests.Session):
    """A Session whose TLS and proxy settings were decided when it was made.

    `trust_env` is off, so requests neither re-reads proxy variables on every call nor lets
    REQUESTS_CA_BUNDLE override the configured bundle; proxies come from the `ProxyEnvironment` read at
    start. MSAL uses this session too.
    """

    def __init__(self, proxies: ProxyEnvironment, timeout: tuple[float, float]) -> None:
        super().__init__()
        self.trust_env = False
        self.proxy_environment = proxies
        self._timeout = timeout

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs["verify"] = True  # the adapter's context decides which CAs are trusted
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        if not kwargs.get("proxies"):
            kwargs["proxies"] = self.proxy_environment.for_url(url)
        return super().request(method, url, *args, **kwargs)

    def rebuild_proxies(self, prepared_request: requests.PreparedRequest, proxies: Any) -> dict[str, str]:
        """A redirect to another host gets that host's proxies (or none), as NO_PROXY says."""
        return super().rebuild_proxies(prepared_request, self.proxy_environment.for_url(prepared_request.url or ""))


#: Connections kept open per host: above the threads that may call Microsoft at once (listener pool,
#: workflow pool, scheduler), so concurrent calls reuse TLS connections instead of discarding them.
POOL_SIZE = 32


def make_session(
    ca_bundle: str | None, timeout: tuple[float, float], *, environ: Mapping[str, str] | None = None
) -> requests.Session:
    """One pooled, keep-alive session per tenant, its CA bundle and proxies decided now.

    Without a configured bundle: REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, else requests' own (certifi), as requests chose.
    """
    environ = os.environ if environ is None else environ
    bundle = ca_bundle or environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE") or DEFAULT_CA_BUNDLE_PATH
    session = _Session(ProxyEnvironment(environ), timeout)
    adapter = _SharedContextAdapter(ssl_context(bundle), pool_connections=4, pool_maxsize=POOL_SIZE)
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
