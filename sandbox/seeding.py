"""The sandbox's seed: tenants read from YAML (by default `seed/demo-tenant.yaml`), names made ids."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from sandbox.tenant import (
    AUTH_POLICY_SWITCHES,
    DIRECTORY_ROLES,
    GUID,
    AppRegistration,
    AuthenticationPolicy,
    Group,
    TenantState,
    User,
)

SEED_PATH = Path(__file__).with_name("seed") / "demo-tenant.yaml"
_CA_USER_KEYS = (
    "includeUsers",
    "excludeUsers",
    "includeGroups",
    "excludeGroups",
    "includeRoles",
    "excludeRoles",
)

#: Seed (wire) key of a user -> keyword of `TenantState.add_user`.
_USER_KEYS = {
    "id": "id",
    "userPrincipalName": "upn",
    "displayName": "display_name",
    "mail": "mail",
    "accountEnabled": "account_enabled",
    "licensed": "licensed",
    "userType": "user_type",
    "perUserMfaState": "per_user_mfa_state",
    "hasRegisteredMfaMethod": "has_registered_mfa_method",
    "authenticationPolicy": "authentication_policy",
    "smtp_password": "smtp_password",
}


def load_tenant(key: str, raw: dict[str, Any], client_secrets: dict[str, str]) -> TenantState:
    """The tenant `key` as the seed entry `raw` describes it; app secrets live in `client_secrets`."""
    tenant = TenantState(
        key=key,
        id=raw["id"].lower(),
        display_name=raw["displayName"],
        domains=list(raw["domains"]),
        security_defaults_enabled=raw.get("securityDefaults", {}).get("isEnabled", False),
        smtp_client_authentication_disabled=raw.get("transportConfig", {}).get(
            "SmtpClientAuthenticationDisabled", True
        ),
        allow_legacy_tls_clients=raw.get("transportConfig", {}).get("AllowLegacyTLSClients", False),
        default_authentication_policy=raw.get("organizationConfig", {}).get(
            "DefaultAuthenticationPolicy"
        ),
        entra_id_p1=bool(raw.get("entraIdP1", False)),
    )
    for policy in raw.get("authenticationPolicies", []):
        unknown = set(policy) - {"Name", *AUTH_POLICY_SWITCHES}
        if unknown:
            raise ValueError(f"{key}: unknown authentication policy keys {sorted(unknown)}")
        switches = {s: bool(policy.get(s, True)) for s in AUTH_POLICY_SWITCHES}
        tenant.authentication_policies.append(
            AuthenticationPolicy(
                tenant.derived_id("authpolicy", policy["Name"]), policy["Name"], switches
            )
        )
    for group in raw.get("groups", []):
        tenant.groups.append(
            Group(tenant.derived_id("group", group["displayName"]), group["displayName"])
        )
    for raw_user in raw.get("users", []):
        tenant.add_user(**_user_options(key, raw_user))
    tenant.conditional_access_policies = [
        _ca_policy(tenant, p) for p in raw.get("conditionalAccessPolicies", [])
    ]
    for raw_app in raw.get("appRegistrations", []):
        client_id = raw_app["appId"].lower()
        tenant.apps.append(
            AppRegistration(
                client_id=client_id,
                display_name=raw_app["displayName"],
                service_principal_id=tenant.derived_id("serviceprincipal", client_id),
                client_secret=client_secrets.setdefault(client_id, secrets.token_urlsafe(30)),
                graph_roles=set(raw_app.get("graphRoles", [])),
                exchange_roles=set(raw_app.get("exchangeRoles", [])),
                directory_roles=set(raw_app.get("directoryRoles", [])),
            )
        )
        unknown = set(raw_app.get("directoryRoles", [])) - set(DIRECTORY_ROLES)
        if unknown:
            raise ValueError(f"{key}: unknown directory roles {sorted(unknown)}")
    return tenant


def _user_options(tenant_key: str, raw: dict[str, Any]) -> dict[str, Any]:
    """`add_user` keywords from a seed user; `mailbox: null` means no mailbox."""
    unknown = set(raw) - set(_USER_KEYS) - {"mailbox", "memberOf"}
    if unknown:
        raise ValueError(
            f"{tenant_key}: unknown keys {sorted(unknown)} for user {raw.get('userPrincipalName')}"
        )
    options = {_USER_KEYS[k]: v for k, v in raw.items() if k in _USER_KEYS}
    if "mailbox" in raw:
        options["mailbox"] = raw["mailbox"] is not None
        options["smtp_client_authentication_disabled"] = (raw["mailbox"] or {}).get(
            "SmtpClientAuthenticationDisabled"
        )
    member_of = raw.get("memberOf", [])
    options["groups"] = [m for m in member_of if m not in DIRECTORY_ROLES]
    options["roles"] = [m for m in member_of if m in DIRECTORY_ROLES]
    return options


def _ca_policy(tenant: TenantState, raw: dict[str, Any]) -> dict[str, Any]:
    """A full v1.0 conditionalAccessPolicy from a seed entry; users, groups and roles may be given by name."""
    conditions = raw.get("conditions", {})
    users = {k: list(conditions.get("users", {}).get(k, [])) for k in _CA_USER_KEYS}
    for key in ("includeUsers", "excludeUsers"):
        users[key] = [_ref(tenant.user(u), u) if "@" in u else u for u in users[key]]
    for key in ("includeGroups", "excludeGroups"):
        users[key] = [g if GUID.match(g) else _ref(tenant.group(g), g) for g in users[key]]
    for key in ("includeRoles", "excludeRoles"):
        users[key] = [DIRECTORY_ROLES.get(r, r) for r in users[key]]
    applications = conditions.get("applications", {})
    grant = raw.get("grantControls") or {}
    return {
        "id": raw.get("id") or tenant.derived_id("capolicy", raw["displayName"]),
        "templateId": None,
        "displayName": raw["displayName"],
        "createdDateTime": raw.get("createdDateTime", "2024-03-01T09:00:00Z"),
        "modifiedDateTime": None,
        "state": raw["state"],
        "sessionControls": None,
        "conditions": {
            "userRiskLevels": [],
            "signInRiskLevels": [],
            "clientAppTypes": list(conditions.get("clientAppTypes", ["all"])),
            "platforms": None,
            "locations": None,
            "devices": None,
            "clientApplications": None,
            "applications": {
                "includeApplications": list(applications.get("includeApplications", [])),
                "excludeApplications": list(applications.get("excludeApplications", [])),
                "includeUserActions": [],
                "includeAuthenticationContextClassReferences": [],
                "applicationFilter": None,
            },
            "users": {**users, "includeGuestsOrExternalUsers": None, "excludeGuestsOrExternalUsers": None},
        },
        "grantControls": {
            "operator": grant.get("operator", "OR"),
            "builtInControls": list(grant.get("builtInControls", [])),
            "customAuthenticationFactors": [],
            "termsOfUse": [],
            "authenticationStrength": None,
        },
    }


def _ref(found: User | Group | None, name: str) -> str:
    if found is None:
        raise ValueError(f"Conditional Access policy refers to unknown {name!r}")
    return found.id
