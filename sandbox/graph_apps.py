"""Graph's applications, service principals and their app role assignments (consent), for the Graph stand-in.

Shapes: learn.microsoft.com/graph/api/resources/serviceprincipal, .../application, .../approleassignment.
Reading them needs Application.Read.All (or broader). `$filter` accepts only what the sandbox knows Graph
supports on these collections (`appId`, `id`, `displayName` with `eq`); anything else is refused, as Graph
refuses a property it cannot filter on.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sandbox.graph_request import GraphRequest, paren, select_properties
from sandbox.tenant import AppRegistration, TenantState
from sandbox.wire import Reply

APPLICATION_READ = frozenset(
    {"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
#: First-party resource apps: app id -> (display name, application permissions it defines). Their appRole ids
#: here are the sandbox's own (stable) GUIDs: the bot must read them from the resource, never assume them.
RESOURCES = {
    EXCHANGE_APP_ID: (
        "Office 365 Exchange Online",
        ("Exchange.ManageAsApp", "Exchange.ManageAsAppV2", "SMTP.SendAsApp", "IMAP.AccessAsApp", "POP.AccessAsApp"),
    ),
    GRAPH_APP_ID: ("Microsoft Graph", ()),
}
_NAMESPACE = uuid.UUID("6f1c0c4e-8f4e-4b7b-9a57-5a4b2d0c1e93")
_FILTER = re.compile(r"^\s*(?P<prop>\w+)\s+eq\s+'(?P<value>(?:[^']|'')*)'\s*$", re.IGNORECASE)
FILTERABLE = ("appId", "id", "displayName")


def role_id(app_id: str, permission: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{app_id}:{permission}"))


def _resource_sp_id(tenant: TenantState, app_id: str) -> str:
    return tenant.derived_id("resourcesp", app_id)


def _service_principals(tenant: TenantState) -> list[dict[str, Any]]:
    rows = []
    for app_id, (name, permissions) in RESOURCES.items():
        rows.append({
            "id": _resource_sp_id(tenant, app_id), "appId": app_id, "displayName": name,
            "servicePrincipalType": "Application", "accountEnabled": True, "appOwnerOrganizationId": None,
            "appRoles": [{"id": role_id(app_id, p), "value": p, "displayName": p, "isEnabled": True,
                          "allowedMemberTypes": ["Application"], "origin": "Application"} for p in permissions],
        })
    for app in tenant.apps:
        rows.append({
            "id": app.service_principal_id, "appId": app.client_id, "displayName": app.display_name,
            "servicePrincipalType": "Application", "accountEnabled": True, "appOwnerOrganizationId": tenant.id,
            "appRoles": [],
        })
    return rows


def _applications(tenant: TenantState) -> list[dict[str, Any]]:
    return [{"id": tenant.derived_id("application", app.client_id), "appId": app.client_id,
             "displayName": app.display_name, "signInAudience": "AzureADMyOrg",
             "publisherDomain": tenant.initial_domain} for app in tenant.apps]


def _filtered(request: GraphRequest, rows: list[dict[str, Any]], type_name: str) -> list[dict[str, Any]] | Reply:
    text = request.call.query.get("$filter")
    if text is None:
        return rows
    match = _FILTER.match(text)
    if match is None:
        return request.bad_request("Invalid filter clause: the sandbox supports `<property> eq '<value>'` only.")
    prop = next((p for p in FILTERABLE if p.lower() == match["prop"].lower()), None)
    if prop is None:
        return request.bad_request(
            f"Unsupported or invalid query filter clause specified for property '{match['prop']}' of resource "
            f"'{type_name}'."
        )
    value = match["value"].replace("''", "'").lower()
    return [r for r in rows if str(r.get(prop, "")).lower() == value]


def _collection(request: GraphRequest, rows: list[dict[str, Any]], type_name: str, context: str) -> Reply:
    denied = request.require(APPLICATION_READ)
    if denied:
        return denied
    found = _filtered(request, rows, type_name)
    if isinstance(found, Reply):
        return found
    select = select_properties(request, {k for r in rows for k in r} | {"id"}, type_name[0].lower() + type_name[1:])
    if isinstance(select, Reply):
        return select
    if select:
        found = [{k: v for k, v in r.items() if k in select} for r in found]
    return Reply(200, {"@odata.context": f"{request.root}/$metadata#{context}{paren(select)}", "value": found})


def list_service_principals(graph: Any, request: GraphRequest, match: re.Match[str]) -> Reply:
    return _collection(request, _service_principals(request.tenant), "ServicePrincipal", "servicePrincipals")


def list_applications(graph: Any, request: GraphRequest, match: re.Match[str]) -> Reply:
    return _collection(request, _applications(request.tenant), "Application", "applications")


def app_role_assignments(graph: Any, request: GraphRequest, match: re.Match[str]) -> Reply:
    """The application permissions granted to a service principal (admin consent), as appRoleAssignments."""
    denied = request.require(APPLICATION_READ)
    if denied:
        return denied
    tenant = request.tenant
    app = next((a for a in tenant.apps if a.service_principal_id == match["sp"].lower()), None)
    if app is None:
        known = {r["id"] for r in _service_principals(tenant)}
        if match["sp"].lower() in known:
            return Reply(200, {"@odata.context": f"{request.root}/$metadata#servicePrincipals('{match['sp']}')/"
                               "appRoleAssignments", "value": []})
        return request.error(404, "Request_ResourceNotFound", f"Resource '{match['sp']}' does not exist or one "
                             "of its queried reference-property objects are not present.")
    return Reply(200, {
        "@odata.context": f"{request.root}/$metadata#servicePrincipals('{app.service_principal_id}')/appRoleAssignments",
        "value": _assignments(tenant, app),
    })


def _assignments(tenant: TenantState, app: AppRegistration) -> list[dict[str, Any]]:
    rows = []
    for app_id, permissions in ((EXCHANGE_APP_ID, app.exchange_roles), (GRAPH_APP_ID, app.graph_roles)):
        for permission in sorted(permissions):
            rows.append({
                "id": tenant.derived_id("approleassignment", f"{app.client_id}:{permission}"),
                "appRoleId": role_id(app_id, permission),
                "createdDateTime": "2025-01-01T00:00:00Z",
                "deletedDateTime": None,
                "principalDisplayName": app.display_name,
                "principalId": app.service_principal_id,
                "principalType": "ServicePrincipal",
                "resourceDisplayName": RESOURCES[app_id][0],
                "resourceId": _resource_sp_id(tenant, app_id),
            })
    return rows
