"""Exchange Online admin client over the `InvokeCommand` endpoint the ExchangeOnlineManagement module uses.

The endpoint is undocumented but what CIPP, ExoHelper and the v3 module itself speak; see
reference §3.2. No PowerShell is run: cmdlets go as JSON over HTTPS.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from bot.errors import ExchangeNotFound, M365Error, PermissionMissing, Throttled, UpstreamError
from bot.m365.auth import TokenProvider, token_claims
from bot.m365.http import READ_RETRY_STATUSES, RETRY_STATUSES, Response, Transport

log = logging.getLogger(__name__)

SYSTEM_ANCHOR = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)

#: The least Entra role on the app's service principal that lets app-only InvokeCommand run a cmdlet.
#: Exchange Administrator covers every cmdlet; Exchange Recipient Administrator may cover the recipient ones, which
#: no Microsoft source confirms (`doctor` tries a no-op Set-CASMailbox to find out).
RECIPIENT_CMDLETS = frozenset({"Get-CASMailbox", "Set-CASMailbox", "Get-User", "Get-Mailbox"})

#: Exchange's answer when a tenant has too many requests in flight, with whatever status it comes; ExoHelper
#: (GreyCorbel/ExoHelper, Invoke-ExoCommand) waits and retries on it like on a 429.
CONCURRENCY_LIMIT = "you have reached the maximum number of concurrent requests per tenant"
REDIRECT_STATUSES = frozenset({301, 302, 307, 308})
MAX_REDIRECTS = 3


def at_concurrency_limit(response: Response) -> bool:
    return CONCURRENCY_LIMIT in response.text.lower()


def role_for(cmdlet: str) -> str:
    if cmdlet in RECIPIENT_CMDLETS:
        return "Exchange Administrator (Exchange Recipient Administrator may be enough, unconfirmed)"
    if cmdlet.startswith("Get-"):
        return "Global Reader (or Exchange Administrator)"
    return "Exchange Administrator"


@dataclass
class CmdletResult:
    value: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    pages: int = 0


class ExchangeClient:
    """Runs Exchange cmdlets app-only for one tenant."""

    service = "Exchange Online"

    def __init__(
        self, transport: Transport, tokens: TokenProvider, *, base_url: str, scope: str, page_size: int = 1000
    ) -> None:
        self.transport = transport
        self.tokens = tokens
        self.base_url = base_url.rstrip("/")
        self.scope = scope
        self.page_size = page_size
        self._tenant_guid: str | None = tokens.tenant_id if GUID.match(tokens.tenant_id) else None
        self._invoke_url: str | None = None  # where Exchange redirected this tenant's InvokeCommand

    def _token(self, refresh: bool) -> str:
        token = self.tokens.token(self.scope, force_refresh=refresh)
        if self._tenant_guid is None:
            # The endpoint wants the tenant GUID; a domain in the config is resolved through the token's tid.
            self._tenant_guid = token_claims(token).get("tid") or self.tokens.tenant_id
        return token

    def invoke(
        self,
        cmdlet: str,
        parameters: dict[str, Any] | None = None,
        *,
        select: list[str] | None = None,
        anchor: str | None = None,
        on_page: Callable[[int], None] | None = None,
    ) -> CmdletResult:
        """Run one cmdlet and return every page of its output; `on_page(objects so far)` after each page."""
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters or {}}}
        result = CmdletResult()
        url: str | None = None
        while True:
            response = self._post(cmdlet, url, body, select, anchor)
            data = response.json()
            if response.status != 200 or not isinstance(data, dict):
                raise _error(cmdlet, response, data)
            result.pages += 1
            result.value.extend(data.get("value") or [])
            result.warnings.extend(str(w) for w in data.get("@adminapi.warnings") or [])
            if on_page is not None:
                on_page(len(result.value))
            url = data.get("@odata.nextLink")
            if not url:
                return result

    def _post(
        self, cmdlet: str, url: str | None, body: dict[str, Any], select: list[str] | None, anchor: str | None
    ) -> Response:
        response = None
        for refresh in (False, True):
            token = self._token(refresh)
            target = url or self._invoke_url or f"{self.base_url}/adminapi/beta/{self._tenant_guid}/InvokeCommand"
            params = {"$select": ",".join(select)} if select and not url else None
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Content-Type": "application/json",
                "X-CmdletName": cmdlet,
                "X-ResponseFormat": "json",
                "X-ClientApplication": "smtp-auth-bot",
                "X-AnchorMailbox": anchor or f"APP:{SYSTEM_ANCHOR}@{self._tenant_guid}",
                "Prefer": f"odata.maxpagesize={self.page_size}",
            }
            response = self._send_following(target, headers, body, params, first_page=url is None,
                                            read=cmdlet.startswith("Get-"))
            if response.status != 401:
                return response
            log.info("Exchange refused the token for %s; refreshing once", cmdlet)
        return response  # type: ignore[return-value]

    def _send_following(
        self, url: str, headers: dict[str, str], body: dict[str, Any], params: dict[str, str] | None, *,
        first_page: bool, read: bool,
    ) -> Response:
        """POST, and re-POST with the same headers and body where Exchange redirects (some tenants are sent
        to a tenant-specific host). requests would turn a 302 into a GET without Authorization. A `read`
        (a Get- cmdlet) also retries 500/502."""
        statuses = READ_RETRY_STATUSES if read else RETRY_STATUSES
        for _ in range(MAX_REDIRECTS + 1):
            response = self.transport.send("POST", url, headers=headers, json_body=body, params=params,
                                           retry_statuses=statuses, retry_if=at_concurrency_limit,
                                           allow_redirects=False)
            location = response.header("Location")
            if response.status not in REDIRECT_STATUSES or not location:
                return response
            url, params = urljoin(response.url, location), None  # the Location keeps the query it needs
            if urlsplit(url).scheme != "https":
                raise UpstreamError(self.service, response.status, f"redirected to a non-HTTPS address ({url})",
                                    request_id=response.request_id, client_request_id=response.client_request_id)
            if first_page:
                parts = urlsplit(url)
                self._invoke_url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
            log.info("Exchange redirected InvokeCommand to %s", urlsplit(url).netloc)
        raise UpstreamError(self.service, response.status, f"more than {MAX_REDIRECTS} redirects",
                            request_id=response.request_id, client_request_id=response.client_request_id)


def error_text(data: Any) -> str:
    """The useful text of an Exchange error: details -> innererror -> message (reference §3.2)."""
    if not isinstance(data, dict):
        return ""
    error = data.get("error") or {}
    for detail in error.get("details") or []:
        message = (detail or {}).get("message")
        if message:
            return str(message).split("|")[-1].strip()
    inner = error.get("innererror") or {}
    for candidate in (
        (inner.get("internalexception") or {}).get("message"),
        (inner.get("internalException") or {}).get("message"),
        inner.get("message"),
        error.get("message"),
    ):
        if candidate:
            return str(candidate).strip()
    return ""


def _error(cmdlet: str, response: Response, data: Any) -> M365Error:
    status = response.status
    text = error_text(data)
    action = f"run {cmdlet}"
    if status == 401:
        return PermissionMissing(action, permission="Exchange.ManageAsApp", api="Office 365 Exchange Online")
    if status == 403:
        # Often a body of NUL bytes: the app role is there but the service principal has no Entra role.
        return PermissionMissing(action, role=role_for(cmdlet))
    if status == 404 or "ManagementObjectNotFoundException" in str(data):
        return ExchangeNotFound(f"{cmdlet}: {text or 'object not found'}")
    ids = {"request_id": response.request_id, "client_request_id": response.client_request_id}
    if status == 429:
        return Throttled(ExchangeClient.service, None, **ids)
    if status == 200:
        return UpstreamError(ExchangeClient.service, status, f"{cmdlet}: the answer was not valid JSON", **ids)
    snippet = text or response.text[:200] or "no error text"
    code = str((data.get("error") or {}).get("code", "")) if isinstance(data, dict) else ""
    log.warning("Exchange %s answered %s: %s (client-request-id %s, request-id %s)",
                cmdlet, status, snippet, ids["client_request_id"], ids["request_id"] or "-")
    return UpstreamError(ExchangeClient.service, status, f"{cmdlet}: {snippet}", code=code, **ids)
