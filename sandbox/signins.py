"""Entra ID sign-in logs: `GET /v1.0/auditLogs/signIns`, seeded and written by the SMTP stand-in's Basic AUTH.

As strict as Graph (learn.microsoft.com/graph/api/signin-list, /graph/api/resources/signin):
- the application permission `AuditLog.Read.All`, else 403 `Authorization_RequestDenied`;
- an Entra ID P1 or P2 licence on the tenant, else 403 `Authentication_RequestFromNonPremiumTenantOrB2CTenant`
  "Neither tenant is B2C or tenant doesn't have premium license" (the answer reported in
  microsoftgraph/msgraph-sdk-dotnet#1006 and MicrosoftDocs/azure-docs#77948);
- `$filter` only on the documented properties and operators (`sandbox.filterable.SIGN_INS`), joined by `and`;
  anything else 400 `BadRequest` "Invalid filter clause" (microsoftgraph/microsoft-graph-docs#5676);
- pages of at most 1,000 (`$top`, default 1,000), newest first, `@odata.nextLink` with a `$skiptoken`;
- only the retention period is kept: 30 days with P1/P2.

SMTP AUTH with a password shows as `clientAppUsed` "Authenticated SMTP" (the legacy client the Conditional Access
client-apps condition names "Authenticated SMTP"), app "Office 365 Exchange Online".
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sandbox.filterable import SIGN_INS
from sandbox.graph_request import GraphRequest
from sandbox.tenant import TenantState
from sandbox.wire import Reply

AUDIT_LOG_READ = frozenset({"AuditLog.Read.All"})
AUTHENTICATED_SMTP = "Authenticated SMTP"
EXCHANGE_ONLINE = "Office 365 Exchange Online"
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
PAGE_MAX = 1000
RETENTION = timedelta(days=30)
NON_PREMIUM = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
NON_PREMIUM_TEXT = "Neither tenant is B2C or tenant doesn't have premium license"
INVALID_FILTER = "Invalid filter clause"

#: Entra error codes for a password sign-in (learn.microsoft.com/entra/identity-platform/reference-error-codes).
FAILURE_REASONS = {
    0: None,
    50126: "Error validating credentials due to invalid username or password.",
    50057: "The user account is disabled.",
    50076: "Due to a configuration change made by your administrator, or because you moved to a new location, "
    "you must use multi-factor authentication to access the resource.",
    53003: "Access has been blocked by Conditional Access policies. The access policy does not allow token "
    "issuance.",
}


@dataclass
class SignIn:
    """One sign-in event; `error_code` 0 is a success."""

    id: str
    created: datetime
    user_id: str
    upn: str
    display_name: str
    ip_address: str
    error_code: int = 0
    client_app: str = AUTHENTICATED_SMTP
    app_display_name: str = EXCHANGE_ONLINE
    app_id: str = EXCHANGE_APP_ID

    def to_json(self) -> dict[str, Any]:
        """The v1.0 signIn resource."""
        return {
            "id": self.id,
            "createdDateTime": _iso(self.created),
            "userDisplayName": self.display_name,
            "userPrincipalName": self.upn,
            "userId": self.user_id,
            "appId": self.app_id,
            "appDisplayName": self.app_display_name,
            "ipAddress": self.ip_address,
            "clientAppUsed": self.client_app,
            "correlationId": str(uuid.uuid5(uuid.UUID(self.id), "correlation")),
            "conditionalAccessStatus": "failure" if self.error_code == 53003 else "notApplied",
            "isInteractive": True,
            "riskDetail": "none",
            "riskLevelAggregated": "none",
            "riskLevelDuringSignIn": "none",
            "riskState": "none",
            "riskEventTypes": [],
            "riskEventTypes_v2": [],
            "resourceDisplayName": EXCHANGE_ONLINE,
            "resourceId": EXCHANGE_APP_ID,
            "status": {
                "errorCode": self.error_code,
                "failureReason": FAILURE_REASONS.get(self.error_code) or ("Other." if self.error_code else None),
                "additionalDetails": None,
            },
            "deviceDetail": {"deviceId": "", "displayName": None, "operatingSystem": None, "browser": None,
                             "isCompliant": None, "isManaged": None, "trustType": None},
            "location": {"city": None, "state": None, "countryOrRegion": None,
                         "geoCoordinates": {"altitude": None, "latitude": None, "longitude": None}},
            "appliedConditionalAccessPolicies": [],
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def add_sign_in(tenant: TenantState, user_ref: str, created: datetime, ip: str, error_code: int = 0) -> SignIn:
    """Record one SMTP AUTH sign-in of `user_ref` (UPN or object id)."""
    user = tenant.user(user_ref)
    if user is None:
        raise ValueError(f"sign-in for unknown user {user_ref!r} in {tenant.key}")
    if error_code not in FAILURE_REASONS:
        raise ValueError(f"unknown sign-in error code {error_code} (known: {sorted(FAILURE_REASONS)})")
    event = SignIn(str(uuid.uuid4()), created, user.id, user.user_principal_name, user.display_name, ip, error_code)
    tenant.sign_ins.append(event)
    return event


def seed_sign_ins(tenant: TenantState, entries: list[dict[str, Any]], now: datetime) -> None:
    """Seed entries: `userPrincipalName`, `daysAgo` (relative to the sandbox clock), `ipAddress`, optional
    `errorCode` and `count` (that many sign-ins, an hour apart)."""
    for entry in entries:
        unknown = set(entry) - {"userPrincipalName", "daysAgo", "ipAddress", "errorCode", "count"}
        if unknown:
            raise ValueError(f"{tenant.key}: unknown sign-in keys {sorted(unknown)}")
        for n in range(int(entry.get("count", 1))):
            created = now - timedelta(days=float(entry["daysAgo"]), hours=n)
            add_sign_in(tenant, entry["userPrincipalName"], created, entry["ipAddress"], int(entry.get("errorCode", 0)))


# --- $filter ------------------------------------------------------------------------------------------

_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_STARTSWITH = re.compile(r"startswith\(\s*([\w/]+)\s*,\s*'((?:[^']|'')*)'\s*\)", re.IGNORECASE)
_COMPARE = re.compile(r"([\w/]+)\s+(eq|ne|gt|ge|lt|le)\s+(.+)", re.IGNORECASE)
_STRING = re.compile(r"'((?:[^']|'')*)'")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?")

Predicate = Callable[[dict[str, Any]], bool]


class InvalidFilter(ValueError):
    pass


def compile_filter(text: str) -> Predicate:
    """A predicate over signIn JSON for `text`, or InvalidFilter when Graph would refuse it."""
    clauses = [_clause(part.strip()) for part in _split_and(text)]
    return lambda item: all(clause(item) for clause in clauses)


def _split_and(text: str) -> list[str]:
    """`text` split on `and` outside string literals."""
    parts, start, quoted = [], 0, False
    for match in re.finditer(r"'|\s+and\s+", text, re.IGNORECASE):
        if match.group() == "'":
            quoted = not quoted
        elif not quoted:
            parts.append(text[start : match.start()])
            start = match.end()
    parts.append(text[start:])
    if quoted or any(not p.strip() for p in parts):
        raise InvalidFilter(text)
    return parts


def _clause(text: str) -> Predicate:
    if match := _STARTSWITH.fullmatch(text):
        prop, value = _property(match[1], "startswith"), match[2].replace("''", "'").lower()
        return lambda item: str(_value(item, prop) or "").lower().startswith(value)
    match = _COMPARE.fullmatch(text)
    if match is None:
        raise InvalidFilter(text)
    prop, op = _property(match[1], match[2].lower()), match[2].lower()
    literal = _literal(prop, match[3].strip())
    if prop == "createdDateTime":
        return lambda item: _compare(op, _parse_time(str(item["createdDateTime"])), literal)
    if isinstance(literal, str):
        return lambda item: str(_value(item, prop) or "").lower() == literal.lower()
    return lambda item: _value(item, prop) == literal


def _property(name: str, op: str) -> str:
    canonical = {k.lower(): k for k in SIGN_INS}.get(name.lower())
    if canonical is None or op not in SIGN_INS[canonical]:
        raise InvalidFilter(name)
    return canonical


def _literal(prop: str, raw: str) -> Any:
    if prop == "createdDateTime":
        if not _DATETIME.fullmatch(raw):  # OData DateTimeOffset literals are unquoted
            raise InvalidFilter(raw)
        return _parse_time(raw)
    if string := _STRING.fullmatch(raw):
        return string[1].replace("''", "'")
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    raise InvalidFilter(raw)


def _parse_time(raw: str) -> datetime:
    moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _compare(op: str, left: datetime, right: datetime) -> bool:
    return {"eq": left == right, "ge": left >= right, "le": left <= right}[op]


def _value(item: dict[str, Any], path: str) -> Any:
    value: Any = item
    for part in path.split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


# --- the endpoint ---------------------------------------------------------------------------------------


def list_sign_ins(tenant: TenantState, request: GraphRequest, premium: bool) -> Reply:
    """`GET /auditLogs/signIns` for `tenant`, as the caller's token and the tenant's licence allow."""
    denied = request.require(AUDIT_LOG_READ)
    if denied:
        return denied
    if not premium:
        return request.error(403, NON_PREMIUM, NON_PREMIUM_TEXT)
    query = request.call.query
    try:
        predicate = compile_filter(query["$filter"]) if query.get("$filter", "").strip() else None
    except InvalidFilter:
        return request.bad_request(INVALID_FILTER)
    try:
        top = int(query.get("$top", PAGE_MAX))
        skip = int(base64.urlsafe_b64decode(query.get("$skiptoken", "MA==")))
    except ValueError:
        return request.bad_request("Invalid value for $top or $skiptoken.")
    if not 1 <= top <= PAGE_MAX:
        return request.bad_request(f"Invalid page size specified: '{top}'. Must be between 1 and {PAGE_MAX} inclusive.")
    oldest = request.now - RETENTION
    events = sorted((s for s in tenant.sign_ins if s.created >= oldest), key=lambda s: s.created, reverse=True)
    items = [s.to_json() for s in events]
    if predicate is not None:
        items = [i for i in items if predicate(i)]
    body: dict[str, Any] = {"@odata.context": f"{request.root}/$metadata#auditLogs/signIns"}
    if skip + top < len(items):
        next_query = {k: v for k, v in query.items() if k != "$skiptoken"}
        next_query["$skiptoken"] = base64.urlsafe_b64encode(str(skip + top).encode()).decode()
        body["@odata.nextLink"] = f"{request.root}/auditLogs/signIns?{urlencode(next_query, safe='$,')}"
    body["value"] = items[skip : skip + top]
    return Reply(200, body)
