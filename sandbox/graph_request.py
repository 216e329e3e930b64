"""What every Graph stand-in handler works with: an authenticated request, Graph's errors and JSON shapes."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.tenant import DirectoryRole, Group, TenantState, User
from sandbox.wire import Call, Reply, graph_error

NOT_FOUND = "Resource '{}' does not exist or one of its queried reference-property objects are not present."
NOT_JSON = (
    "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid "
    "JSON format."
)
UNKNOWN_PROPERTY = (
    "The property '{}' does not exist on type 'microsoft.graph.{}'. Make sure to only use property names "
    "that are defined by the type or mark the type as open type."
)


@dataclass
class GraphRequest:
    """A Graph call after authentication: the version root, the tenant and the token's roles."""

    call: Call
    version: str
    tenant: TenantState
    roles: frozenset[str]
    now: datetime

    @property
    def root(self) -> str:
        return f"{self.call.base_url}/{self.version}"

    def error(self, status: int, code: str, message: str) -> Reply:
        return graph_error(self.call, self.now, status, code, message)

    def bad_request(self, message: str) -> Reply:
        return self.error(400, "BadRequest", message)

    def require(self, allowed: frozenset[str]) -> Reply | None:
        if self.roles & allowed:
            return None
        return self.error(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )

    def user(self, ref: str) -> User | Reply:
        user = self.tenant.user(ref)
        if user is None:
            return self.error(404, "Request_ResourceNotFound", NOT_FOUND.format(ref))
        return user

    def json_object(self) -> dict[str, Any] | Reply:
        try:
            body = self.call.json()
        except ValueError:
            return self.bad_request(NOT_JSON)
        return (
            body if isinstance(body, dict) else self.bad_request("The request payload must be a JSON object.")
        )


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "userPrincipalName": user.user_principal_name,
        "displayName": user.display_name,
        "mail": user.mail,
        "accountEnabled": user.account_enabled,
        "assignedLicenses": copy.deepcopy(user.assigned_licenses),
        "userType": user.user_type,
        "onPremisesSyncEnabled": None,
        "givenName": None,
        "surname": None,
        "businessPhones": [],
        "jobTitle": None,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None,
    }


ROLE_TYPE = "#microsoft.graph.directoryRole"


def directory_object(obj: Group | DirectoryRole) -> dict[str, Any]:
    if isinstance(obj, Group):
        return {
            "@odata.type": "#microsoft.graph.group",
            "id": obj.id,
            "displayName": obj.display_name,
            "description": None,
            "groupTypes": [],
            "mailEnabled": False,
            "securityEnabled": True,
        }
    return {
        "@odata.type": ROLE_TYPE,
        "id": obj.id,
        "displayName": obj.display_name,
        "description": None,
        "roleTemplateId": obj.role_template_id,
    }


def limited(obj: dict[str, Any]) -> dict[str, Any]:
    """An object the token may not read, as a directoryObject collection returns it: "only the @odata.type
    property for the object type and the id are returned, while other properties are indicated as null"
    (learn.microsoft.com/graph/api/user-list-transitivememberof, "limited information")."""
    return {k: v if k in ("@odata.type", "id") else None for k, v in obj.items()}


def select_properties(request: GraphRequest, known: set[str], type_name: str) -> list[str] | Reply:
    """The `$select` properties in their canonical spelling (Graph matches them case-insensitively)."""
    raw = request.call.query.get("$select", "")
    canonical = {k.lower(): k for k in known}
    selected = []
    for name in filter(None, (n.strip() for n in raw.split(","))):
        if name.lower() not in canonical:
            return request.bad_request(
                "Parsing OData Select and Expand failed: "
                f"Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'."
            )
        selected.append(canonical[name.lower()])
    return selected


def paren(select: list[str]) -> str:
    return f"({','.join(select)})" if select else ""


def patch_problem(body: dict[str, Any], writable: str, read_only: set[str], type_name: str) -> str:
    for key in body:
        if key in read_only:
            return f"Property '{key}' is read-only and cannot be set."
        if key != writable:
            return UNKNOWN_PROPERTY.format(key, type_name)
    return "" if writable in body else f"The request body must set '{writable}'."
