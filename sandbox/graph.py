"""Microsoft Graph stand-in: users, memberships, security defaults, Conditional Access, MFA, $batch."""

from __future__ import annotations

import base64
import copy
import json
import random
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from sandbox.entra import check_bearer
from sandbox.graph_apps import app_role_assignments, list_applications, list_service_principals
from sandbox.graph_request import (
    ROLE_TYPE,
    GraphRequest,
    directory_object,
    limited,
    paren,
    patch_problem,
    select_properties,
    user_json,
)
from sandbox.signins import list_sign_ins
from sandbox.state import SandboxState
from sandbox.tenant import MFA_STATES
from sandbox.wire import ODATA_JSON, BatchItemSummary, Call, Reply, graph_error

BATCH_LIMIT = 20
DEFAULT_PAGE = 100
USER_READ = frozenset(
    {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)
MEMBERSHIP_READ = frozenset(
    {
        "GroupMember.Read.All",
        "Group.Read.All",
        "Group.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    }
)
#: Reading directoryRole objects (directoryrole-list-members / -get: least RoleManagement.Read.Directory).
ROLE_READ = frozenset(
    {
        "RoleManagement.Read.Directory",
        "RoleManagement.ReadWrite.Directory",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    }
)
SECURITY_DEFAULTS_READ = frozenset({"Policy.Read.All"})
SECURITY_DEFAULTS_WRITE = frozenset(
    {"Policy.ReadWrite.SecurityDefaults", "Policy.ReadWrite.ConditionalAccess"}
)
CONDITIONAL_ACCESS_READ = frozenset(
    {"Policy.Read.All", "Policy.Read.ConditionalAccess", "Policy.ReadWrite.ConditionalAccess"}
)
MFA_READ = frozenset({"Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod"})
MFA_WRITE = frozenset({"Policy.ReadWrite.AuthenticationMethod"})
DEFAULT_USER_PROPERTIES = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
SECURITY_DEFAULTS_ID = "00000000-0000-0000-0000-000000000005"
SECURITY_DEFAULTS_DESCRIPTION = (
    "Security defaults is a set of basic identity security mechanisms recommended by Microsoft. When "
    "enabled, these recommendations will be automatically enforced in your organization. Administrators and "
    "users will be better protected from common identity related attacks."
)
NOT_ALLOWED = "Specified HTTP method is not allowed for the request target."
GRAPH_CHALLENGE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    'client_id="00000003-0000-0000-c000-000000000000"'
)
TOKEN_PROBLEMS = {
    "empty": "Access token is empty.",
    "invalid": "Access token validation failure.",
    "expired": "Access token has expired or is not yet valid.",
    "audience": "Access token validation failure. Invalid audience.",
}


Handler = Callable[["Graph", GraphRequest, re.Match[str]], Reply]


class Graph:
    """`https://graph.microsoft.com/{v1.0|beta}/...` for the tenant named in the bearer token."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._shuffle = random.Random(1365).shuffle

    def handle(self, call: Call) -> Reply:
        version, _, rest = call.path.lstrip("/").partition("/")
        now = self.state.clock.now()
        check = check_bearer(self.state, call, "graph")
        tenant = self.state.find_tenant(check.claims["tid"]) if check.claims else None
        if tenant is None:
            reply = graph_error(
                call, now, 401, "InvalidAuthenticationToken", TOKEN_PROBLEMS[check.problem or "invalid"]
            )
            reply.headers["WWW-Authenticate"] = GRAPH_CHALLENGE
            return reply
        request = GraphRequest(call, version, tenant, frozenset(check.claims.get("roles", ())), now)
        if rest == "$batch":  # not under the state lock: its items take the lock one by one
            return (
                self.batch(request)
                if call.method == "POST"
                else request.error(405, "BadRequest", NOT_ALLOWED)
            )
        return self._route(request, "/" + rest)

    def _route(self, request: GraphRequest, path: str) -> Reply:
        for pattern, handlers, beta_only in ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if beta_only and request.version != "beta":
                if request.call.in_batch:  # as Graph answers a beta-only URL inside a v1.0 batch
                    return request.error(405, "BadRequest", NOT_ALLOWED)
                return request.bad_request(f"Resource not found for the segment '{path.rsplit('/', 1)[-1]}'.")
            handler = handlers.get(request.call.method)
            if handler is None:
                return request.error(405, "BadRequest", NOT_ALLOWED)
            with self.state.lock:
                return handler(self, request, match)
        return request.bad_request(f"Resource not found for the segment '{path.strip('/').split('/')[0]}'.")

    def get_user(self, request: GraphRequest, match: re.Match[str]) -> Reply:
        user = request.require(USER_READ) or request.user(match["user"])
        if isinstance(user, Reply):
            return user
        properties = user_json(user)
        select = select_properties(request, set(properties), "user")
        if isinstance(select, Reply):
            return select
        shown = select or list(DEFAULT_USER_PROPERTIES)
        context = f"{request.root}/$metadata#users{paren(select)}/$entity"
        return Reply(200, {"@odata.context": context, **{p: properties[p] for p in shown}})

    def member_of(self, request: GraphRequest, match: re.Match[str]) -> Reply:
        user = request.require(MEMBERSHIP_READ) or request.user(match["user"])
        if isinstance(user, Reply):
            return user
        objects = [directory_object(o) for o in request.tenant.member_of(user)]
        if not request.roles & ROLE_READ:
            objects = [limited(o) if o["@odata.type"] == ROLE_TYPE else o for o in objects]
        select = select_properties(
            request,
            {k for o in objects for k in o} | {"id", "displayName", "roleTemplateId"},
            "directoryObject",
        )
        if isinstance(select, Reply):
            return select
        if select:
            objects = [{k: v for k, v in o.items() if k in select or k == "@odata.type"} for o in objects]
        try:
            top = int(request.call.query.get("$top", DEFAULT_PAGE))
            skip = int(base64.urlsafe_b64decode(request.call.query.get("$skiptoken", "MA==")))
        except ValueError:
            return request.bad_request("Invalid value for $top or $skiptoken.")
        if not 1 <= top <= 999:
            return request.bad_request(
                f"Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive."
            )
        body: dict[str, Any] = {
            "@odata.context": f"{request.root}/$metadata#directoryObjects{paren(select)}"
        }
        if skip + top < len(objects):
            query = {k: v for k, v in request.call.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = base64.urlsafe_b64encode(str(skip + top).encode()).decode()
            path = f"users/{quote(match['user'])}/transitiveMemberOf"
            body["@odata.nextLink"] = f"{request.root}/{path}?{urlencode(query, safe='$,')}"
        body["value"] = objects[skip : skip + top]
        return Reply(200, body)

    def get_security_defaults(self, request: GraphRequest, match: re.Match[str]) -> Reply:
        denied = request.require(SECURITY_DEFAULTS_READ)
        if denied:
            return denied
        context = f"{request.root}/$metadata#policies/identitySecurityDefaultsEnforcementPolicy/$entity"
        return Reply(
            200,
            {
                "@odata.context": context,
                "id": SECURITY_DEFAULTS_ID,
                "displayName": "Security Defaults",
                "description": SECURITY_DEFAULTS_DESCRIPTION,
                "isEnabled": request.tenant.security_defaults_enabled,
            },
        )

    def patch_security_defaults(self, request: GraphRequest, match: re.Match[str]) -> Reply:
        body = request.require(SECURITY_DEFAULTS_WRITE) or request.json_object()
        if isinstance(body, Reply):
            return body
        problem = patch_problem(
            body,
            "isEnabled",
            {"id", "displayName", "description"},
            "identitySecurityDefaultsEnforcementPolicy",
        )
        if problem:
            return request.bad_request(problem)
        if not isinstance(body["isEnabled"], bool):
            return request.bad_request(
                f"Cannot convert the literal '{body['isEnabled']}' to the expected type 'Edm.Boolean'."
            )
        request.tenant.security_defaults_enabled = body["isEnabled"]
        return Reply(204)

    def conditional_access(self, request: GraphRequest, match: re.Match[str]) -> Reply:
        denied = request.require(CONDITIONAL_ACCESS_READ)
        if denied:
            return denied
        return Reply(
            200,
            {
                "@odata.context": f"{request.root}/$metadata#identity/conditionalAccess/policies",
                "value": copy.deepcopy(request.tenant.conditional_access_policies),
            },
        )

    def get_mfa(self, request: GraphRequest, match: re.Match[str]) -> Reply:
        user = request.require(MFA_READ) or request.user(match["user"])
        if isinstance(user, Reply):
            return user
        context = f"{request.root}/$metadata#users('{user.id}')/authentication/requirements/$entity"
        return Reply(200, {"@odata.context": context, "perUserMfaState": user.per_user_mfa_state})

    def patch_mfa(self, request: GraphRequest, match: re.Match[str]) -> Reply:
        user = request.require(MFA_WRITE) or request.user(match["user"])
        if isinstance(user, Reply):
            return user
        body = request.json_object()
        if isinstance(body, Reply):
            return body
        problem = patch_problem(body, "perUserMfaState", set(), "strongAuthenticationRequirements")
        if problem:
            return request.bad_request(problem)
        value = body["perUserMfaState"]
        if value not in MFA_STATES:
            expected = ", ".join(MFA_STATES)
            return request.bad_request(
                f"Invalid value '{value}' for property 'perUserMfaState' ({expected})."
            )
        user.per_user_mfa_state = (
            "enforced" if value == "enabled" and user.has_registered_mfa_method else value
        )
        return Reply(204)

    def sign_ins(self, request: GraphRequest, match: re.Match[str]) -> Reply:
        return list_sign_ins(request.tenant, request, request.tenant.entra_id_p1)

    def batch(self, request: GraphRequest) -> Reply:
        body = request.json_object()
        if isinstance(body, Reply):
            return body
        items = body.get("requests")
        if not isinstance(items, list) or not all(
            isinstance(i, dict) and {"id", "method", "url"} <= set(i) for i in items
        ):
            return request.bad_request("Invalid batch payload format.")
        if len(items) > BATCH_LIMIT:
            return request.bad_request(
                f"The number of requests in a batch exceeds the limit of {BATCH_LIMIT}."
            )
        ids = [str(i["id"]) for i in items]
        if len(set(ids)) != len(ids):
            return request.bad_request("Batch request contains duplicate request ids.")
        for item in items:
            if item.get("body") is not None and not _content_type(item):
                return request.bad_request(
                    f"Write request id : {item['id']} does not contain Content-Type header or body."
                )
        statuses: dict[str, int] = {}
        responses, summaries = [], []
        for item in items:
            reply = self._batch_item(request, item, statuses)
            if reply.drop:
                return reply
            statuses[str(item["id"])] = reply.status
            responses.append(_item_json(str(item["id"]), reply))
            summaries.append(
                BatchItemSummary(str(item["id"]), str(item["method"]).upper(), str(item["url"]), reply.status)
            )
        self._shuffle(responses)
        return Reply(200, {"responses": responses}, batch_items=summaries)

    def _batch_item(self, request: GraphRequest, item: dict[str, Any], statuses: dict[str, int]) -> Reply:
        """Run one batch item as its own request (same token), after the items it depends on."""
        if any(statuses.get(str(d), 424) >= 400 for d in item.get("dependsOn") or ()):
            return request.error(
                424,
                "FailedDependency",
                "The request could not be processed because a request it depends on failed.",
            )
        url = urlsplit(str(item["url"]))
        if url.scheme:
            return request.bad_request("Invalid request URL: batch request URLs must be relative.")
        call = Call(
            method=str(item["method"]).upper(),
            path=f"/{request.version}/{unquote(url.path).lstrip('/')}",
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers={str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()},
            body=json.dumps(item["body"]).encode() if item.get("body") is not None else b"",
            base_url=request.call.base_url,
            in_batch=True,
        )
        item_request = GraphRequest(call, request.version, request.tenant, request.roles, request.now)
        rule = self.state.faults.take("graph", call.method, call.path, None, in_batch=True)

        def handle() -> Reply:
            return self._route(item_request, call.path.removeprefix(f"/{request.version}"))

        return rule.answer("graph", call, request.now, handle) if rule else handle()


ROUTES: list[tuple[re.Pattern[str], dict[str, Handler], bool]] = [
    (re.compile(r"/users/(?P<user>[^/]+)"), {"GET": Graph.get_user}, False),
    (re.compile(r"/users/(?P<user>[^/]+)/transitiveMemberOf"), {"GET": Graph.member_of}, False),
    (
        re.compile(r"/policies/identitySecurityDefaultsEnforcementPolicy"),
        {"GET": Graph.get_security_defaults, "PATCH": Graph.patch_security_defaults},
        False,
    ),
    (re.compile(r"/identity/conditionalAccess/policies"), {"GET": Graph.conditional_access}, False),
    (re.compile(r"/auditLogs/signIns"), {"GET": Graph.sign_ins}, False),
    (re.compile(r"/servicePrincipals"), {"GET": list_service_principals}, False),
    (re.compile(r"/servicePrincipals/(?P<sp>[^/]+)/appRoleAssignments"), {"GET": app_role_assignments}, False),
    (re.compile(r"/applications"), {"GET": list_applications}, False),
    (
        re.compile(r"/users/(?P<user>[^/]+)/authentication/requirements"),
        {"GET": Graph.get_mfa, "PATCH": Graph.patch_mfa},
        True,
    ),
]


def _content_type(item: dict[str, Any]) -> bool:
    return any(str(k).lower() == "content-type" for k in (item.get("headers") or {}))


def _item_json(item_id: str, reply: Reply) -> dict[str, Any]:
    headers = dict(reply.headers)
    entry: dict[str, Any] = {"id": item_id, "status": reply.status, "headers": headers}
    if isinstance(reply.body, bytes):
        entry["body"] = reply.body.decode("latin-1")
    elif reply.body is not None:
        headers.setdefault("Content-Type", ODATA_JSON)
        entry["body"] = reply.body
    return entry
