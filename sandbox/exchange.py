"""Exchange Online admin API stand-in: `POST /adminapi/beta/{tenant}/InvokeCommand` (cmdlets: `exchange_cmdlets`).

Unknown cmdlets answer like a missing role: 403 with a gzip-declared body of NUL bytes.
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import quote

from sandbox.entra import check_bearer
from sandbox.exchange_cmdlets import CMDLETS as RECIPIENT_AND_ORG_CMDLETS
from sandbox.exchange_cmdlets import CmdletError, Outcome, binding_error
from sandbox.service_principals import APP_CMDLETS
from sandbox.state import SandboxState
from sandbox.tenant import DIRECTORY_ROLES
from sandbox.wire import Call, Reply, exchange_error, nul_403

PATH = re.compile(r"/adminapi/beta/(?P<tenant>[^/]+)/InvokeCommand", re.IGNORECASE)
DEFAULT_PAGE = 1000
ODATA = "Microsoft.Exchange.Admin.OData.Core.ODataServiceException"
FULL_ACCESS = frozenset({DIRECTORY_ROLES["Exchange Administrator"], DIRECTORY_ROLES["Global Administrator"]})
RECIPIENT_ADMIN = DIRECTORY_ROLES["Exchange Recipient Administrator"]
CMDLETS = {**RECIPIENT_AND_ORG_CMDLETS, **APP_CMDLETS}
#: Exchange Recipient Administrator holds "Mail Recipients" (mailbox permissions) but not "Role Management"
#: (service principals, scopes, role assignments: Organization Management, i.e. Exchange Administrator).
RECIPIENT_CMDLETS = frozenset({"Get-CASMailbox", "Set-CASMailbox", "Get-User", "Set-User", "Get-MailboxPermission",
                               "Add-MailboxPermission", "Remove-MailboxPermission"})
READERS = frozenset({DIRECTORY_ROLES["Global Reader"], DIRECTORY_ROLES["Security Reader"]})
WWW_AUTHENTICATE = (
    'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", '
    'trusted_issuers="00000001-0000-0000-c000-000000000000@*", '
    'token_types="app_asserted_user_v1 service_asserted_app_v1", '
    'authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="invalid_token"'
)
TOKEN_PROBLEMS = {
    "empty": "The request has no bearer token.",
    "invalid": "The token is malformed or its signature is invalid.",
    "expired": "The token has expired.",
    "audience": "The token audience is not https://outlook.office365.com.",
}


class Exchange:
    """InvokeCommand for the tenant in the path (GUID or domain), which must be the token's tenant."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    @staticmethod
    def cmdlet_name(call: Call) -> str | None:
        """The cmdlet a request runs, or None when the body does not name one."""
        try:
            body = call.json()
            name = body["CmdletInput"]["CmdletName"]
        except (ValueError, KeyError, TypeError):
            return None
        return name if isinstance(name, str) else None

    @staticmethod
    def cmdlet_identity(call: Call) -> str | None:
        """The -Identity a request's cmdlet names, or None."""
        try:
            identity = call.json()["CmdletInput"]["Parameters"]["Identity"]
        except (ValueError, KeyError, TypeError):
            return None
        return identity if isinstance(identity, str) else None

    def handle(self, call: Call) -> Reply:
        match = PATH.fullmatch(call.path)
        if match is None:
            return Reply(404, b"", {"Content-Type": "text/html"})
        if call.method != "POST":
            return exchange_error(
                405, "MethodNotAllowed", ODATA, "The HTTP method is not allowed for InvokeCommand."
            )
        check = check_bearer(self.state, call, "exchange")
        tenant = self.state.find_tenant(match["tenant"])
        if check.claims is None or tenant is None or tenant.id != check.claims.get("tid"):
            return _unauthorized(
                TOKEN_PROBLEMS[check.problem] if check.problem else "The token is not valid for this tenant."
            )
        if "Exchange.ManageAsApp" not in check.claims.get("roles", ()):
            return _unauthorized("The token lacks the Exchange.ManageAsApp application permission.")
        try:
            cmdlet_input = call.json()["CmdletInput"]
            name, parameters = cmdlet_input["CmdletName"], cmdlet_input.get("Parameters") or {}
            if not isinstance(name, str) or not isinstance(parameters, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return exchange_error(
                400,
                "BadRequest",
                ODATA,
                'The request body must be {"CmdletInput": {"CmdletName": ..., "Parameters": {...}}}.',
            )
        spec = CMDLETS.get(name.lower())
        if spec is None or not _allowed(set(check.claims.get("wids", ())), spec[0]):
            return nul_403()
        _, run, accepted = spec
        try:
            arguments = _bind(parameters, accepted)
            with self.state.lock:
                outcome = run(tenant, arguments)
        except CmdletError as error:
            return error.reply
        return _page(call, match["tenant"], outcome)


def _unauthorized(reason: str) -> Reply:
    return Reply(
        401,
        {"error": {"code": "Unauthorized", "message": reason}},
        {
            "WWW-Authenticate": WWW_AUTHENTICATE,
            "x-ms-diagnostics": f'2000008;reason="{reason}";error_category="invalid_token"',
        },
    )


def _allowed(wids: set[str], cmdlet: str) -> bool:
    if wids & FULL_ACCESS:
        return True
    if RECIPIENT_ADMIN in wids and cmdlet in RECIPIENT_CMDLETS:
        return True
    return bool(wids & READERS) and cmdlet.startswith("Get-")


def _bind(parameters: dict[str, Any], accepted: tuple[str, ...]) -> dict[str, Any]:
    """Parameters under their canonical names (PowerShell matches names case-insensitively)."""
    canonical = {p.lower(): p for p in accepted}
    bound = {}
    for name, value in parameters.items():
        if name.lower() not in canonical:
            raise binding_error(f"A parameter cannot be found that matches parameter name '{name}'.")
        bound[canonical[name.lower()]] = value
    return bound


def _page(call: Call, tenant_ref: str, outcome: Outcome) -> Reply:
    """The `value` page the client asked for (`Prefer: odata.maxpagesize`, `$skiptoken`, `$select`)."""
    prefer = re.search(r"odata\.maxpagesize\s*=\s*(\d+)", call.header("Prefer") or "")
    size = max(1, int(prefer.group(1))) if prefer else DEFAULT_PAGE
    try:
        skip = int(base64.urlsafe_b64decode(call.query.get("$skiptoken", "MA==")))
    except ValueError:
        return exchange_error(400, "BadRequest", ODATA, "The skip token is not valid.")
    objects = outcome.objects
    select = [s.strip().lower() for s in call.query.get("$select", "").split(",") if s.strip()]
    if select:
        objects = [{k: v for k, v in o.items() if k.lower() in select} for o in objects]
    root = f"{call.base_url}/adminapi/beta/{tenant_ref}"
    body: dict[str, Any] = {"@odata.context": f"{root}/$metadata#Collection(Exchange.GenericHashTable)"}
    headers = {"Preference-Applied": f"odata.maxpagesize={size}"} if prefer else {}
    if skip + size < len(objects):
        token = base64.urlsafe_b64encode(str(skip + size).encode()).decode()
        selected = f"$select={quote(call.query['$select'], safe=',')}&" if "$select" in call.query else ""
        body["@odata.nextLink"] = f"{root}/InvokeCommand?{selected}$skiptoken={token}"
    body["value"] = objects[skip : skip + size]
    if outcome.warnings:
        body["@adminapi.warnings"] = outcome.warnings
    return Reply(200, body, headers)
