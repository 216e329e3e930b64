"""Microsoft Graph client: typed errors, token refresh on expiry, JSON batching with per-item throttling."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from bot.errors import LicenceMissing, M365Error, NotFound, PermissionMissing, Throttled, UpstreamError
from bot.m365.auth import TokenProvider
from bot.m365.http import READ_RETRY_STATUSES, RETRY_STATUSES, Response, Transport, parse_retry_after

log = logging.getLogger(__name__)

#: Graph's 403 code when the tenant lacks Entra ID P1/P2 for sign-in logs ("Neither tenant is B2C or tenant doesn't
#: have premium license"; microsoftgraph/msgraph-sdk-dotnet#1006, MicrosoftDocs/azure-docs#77948).
NON_PREMIUM = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"

BATCH_LIMIT = 20  # Graph's documented maximum of requests in one $batch
RETRYABLE_ITEM_STATUSES = frozenset({429, 503, 504})
#: The same for a GET item, which changes nothing when repeated.
RETRYABLE_READ_STATUSES = RETRYABLE_ITEM_STATUSES | {500, 502}


@dataclass(frozen=True)
class Op:
    """What a call does, for error messages, and the application permission it needs."""

    action: str
    permission: str = ""


@dataclass
class BatchItem:
    """One sub-request of a JSON batch. `url` is relative to the version root, e.g. `/users/x?$select=id`."""

    id: str
    url: str
    op: Op
    method: str = "GET"
    body: Any = None
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    result: Any = None

    def ok(self) -> bool:
        return 200 <= self.status < 300

    def raise_for_status(self) -> Any:
        """The item's body, or the typed error its status and body describe."""
        if not self.ok():
            raise _error(self.status, self.result if isinstance(self.result, dict) else None, self.op, None)
        return self.result


class GraphClient:
    """Calls Graph v1.0 and beta for one tenant. Retries and timeouts live in the transport."""

    service = "Microsoft Graph"

    def __init__(self, transport: Transport, tokens: TokenProvider, *, base_url: str, scope: str) -> None:
        self.transport = transport
        self.tokens = tokens
        self.base_url = base_url.rstrip("/")
        self.scope = scope
        self.max_batch_rounds = transport.max_attempts

    def _url(self, path: str, version: str) -> str:
        return path if path.startswith("https://") else f"{self.base_url}/{version}/{path.lstrip('/')}"

    def _send(self, method: str, url: str, body: Any = None, params: dict[str, str] | None = None, *,
              read: bool = False) -> Response:
        """Send with the token, refreshed once if Graph rejects it; a `read` (a GET) also retries 500/502."""
        statuses = READ_RETRY_STATUSES if read or method == "GET" else RETRY_STATUSES
        response = None
        for refresh in (False, True):
            headers = {
                "Authorization": f"Bearer {self.tokens.token(self.scope, force_refresh=refresh)}",
                "Accept": "application/json",
            }
            response = self.transport.send(method, url, headers=headers, json_body=body, params=params,
                                           retry_statuses=statuses)
            if response.status != 401 or _error_code(response.json()) != "InvalidAuthenticationToken":
                return response
            log.info("Graph rejected the token (%s); refreshing once", _error_message(response.json()))
        return response  # type: ignore[return-value]

    def call(
        self, method: str, path: str, op: Op, *, version: str = "v1.0", body: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        """One request; returns the parsed JSON body (None for 204) or raises a typed error."""
        response = self._send(method, self._url(path, version), body, params)
        if 200 <= response.status < 300:
            if response.status == 204 or not response.content:
                return None
            data = response.json()
            if data is None:
                raise UpstreamError(self.service, response.status, f"{op.action}: the answer was not valid JSON",
                                    request_id=response.request_id, client_request_id=response.client_request_id)
            return data
        raise _error(response.status, response.json(), op, response)

    def get(self, path: str, op: Op, *, version: str = "v1.0", params: dict[str, str] | None = None) -> Any:
        return self.call("GET", path, op, version=version, params=params)

    def patch(self, path: str, body: dict[str, Any], op: Op, *, version: str = "v1.0") -> None:
        self.call("PATCH", path, op, version=version, body=body)

    def get_all(self, path: str, op: Op, *, version: str = "v1.0", params: dict[str, str] | None = None) -> list[Any]:
        """Every item of a collection, following @odata.nextLink."""
        data = self.get(path, op, version=version, params=params)
        items = list(data.get("value", []))
        while data.get("@odata.nextLink"):
            data = self.get(data["@odata.nextLink"], op)
            items.extend(data.get("value", []))
        return items

    def batch(self, items: list[BatchItem], *, version: str = "v1.0") -> list[BatchItem]:
        """Run `items` through `$batch`, 20 at a time, retrying throttled items after the longest Retry-After.

        Each item's `status`, `headers` and `result` are filled in; errors stay on the item (call
        `raise_for_status()`), except throttling that outlasts the retries, which raises `Throttled`.
        """
        for start in range(0, len(items), BATCH_LIMIT):
            self._run_chunk(items[start : start + BATCH_LIMIT], version)
        return items

    def _run_chunk(self, chunk: list[BatchItem], version: str) -> None:
        pending = {item.id: item for item in chunk}
        for round_no in range(1, self.max_batch_rounds + 1):
            payload = {
                "requests": [
                    {
                        "id": item.id,
                        "method": item.method,
                        "url": item.url,
                        **({"body": item.body, "headers": {"Content-Type": "application/json"}} if item.body is not None else {}),
                    }
                    for item in pending.values()
                ]
            }
            reads = all(item.method == "GET" for item in pending.values())
            response = self._send("POST", self._url("$batch", version), payload, read=reads)
            data = response.json()
            if response.status != 200 or not isinstance(data, dict) or "responses" not in data:
                raise _error(response.status, data, Op("run a Graph batch request"), response)
            waits: list[float] = []
            for answer in data["responses"]:
                item = pending.get(str(answer.get("id")))
                if item is None:
                    continue
                item.status = int(answer.get("status", 0))
                item.headers = {k.lower(): str(v) for k, v in (answer.get("headers") or {}).items()}
                item.result = answer.get("body")
                retryable = RETRYABLE_READ_STATUSES if item.method == "GET" else RETRYABLE_ITEM_STATUSES
                if item.status in retryable:
                    retry_after = parse_retry_after(item.headers.get("retry-after"), self.transport.clock)
                    waits.append(retry_after if retry_after is not None else self.transport.backoff_delay(round_no))
                else:
                    del pending[item.id]
            if not pending:
                return
            wait = max(waits) if waits else self.transport.backoff_delay(round_no)
            if round_no == self.max_batch_rounds or wait > self.transport.max_wait:
                throttled = [i for i in pending.values() if i.status == 429]
                if throttled:
                    raise Throttled(self.service, wait)
                return
            log.warning("Graph batch: %d item(s) throttled or unavailable, retrying in %.2fs", len(pending), wait)
            self.transport.clock.sleep(wait)


def _error_code(data: Any) -> str:
    return str(((data or {}).get("error") or {}).get("code") or "") if isinstance(data, dict) else ""


def _error_message(data: Any) -> str:
    return str(((data or {}).get("error") or {}).get("message") or "") if isinstance(data, dict) else ""


def _error(status: int, data: dict[str, Any] | None, op: Op, response: Response | None) -> M365Error:
    code, message = _error_code(data), _error_message(data)
    ids = {"request_id": response.request_id, "client_request_id": response.client_request_id} if response else {}
    if code == NON_PREMIUM:
        return LicenceMissing(op.action, "Microsoft Entra ID P1 (or P2)")
    if status == 403 or code == "Authorization_RequestDenied":
        return PermissionMissing(op.action, permission=op.permission, api="Microsoft Graph")
    if status == 404:
        return NotFound(f"{op.action}: not found ({message or code or 'HTTP 404'})")
    if status == 429:
        return Throttled(GraphClient.service, None, **ids)
    if status == 401:
        return UpstreamError(
            GraphClient.service, status, f"{op.action}: the token was refused ({message or code})", code=code,
            hint="Check that the app's tokens are for this tenant and cloud.", **ids,
        )
    detail = message or (f"{op.action}: unexpected answer" if data is None else str(data)[:300])
    return UpstreamError(GraphClient.service, status, f"{op.action}: {detail}", code=code, **ids)
