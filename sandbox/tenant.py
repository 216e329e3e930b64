"""The sandbox's stateful stand-in tenants, seeded from YAML; one RLock guards every read and change."""

from __future__ import annotations

import copy
import re
import secrets
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from bot.clock import SYSTEM_CLOCK, Clock
from sandbox.faults import FaultSet
from sandbox.recording import RequestLog
from sandbox.smtp_records import SmtpFaults, SmtpMessage, SmtpSession

SEED_PATH = Path(__file__).with_name("seed") / "demo-tenant.yaml"
DEFAULT_TOKEN_LIFETIME = 3599
OFFICE_365_E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

#: Entra built-in role display name -> role template id (the `wids` claim carries template ids).
DIRECTORY_ROLES = {
    "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
    "Exchange Administrator": "29232cdf-9323-42fd-ade2-1d097af3e4de",
    "Exchange Recipient Administrator": "31392ffb-586c-42d1-9346-e59415a2cc4e",
    "Global Reader": "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
    "Security Reader": "5d6b6bb7-de71-4623-b4af-96380a352509",
    "Security Administrator": "194ae4cb-b126-40b2-bd5b-6091b380977d",
    "Conditional Access Administrator": "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
    "Authentication Policy Administrator": "0526716b-113d-4c15-b2c8-68e3c22b9f80",
}
#: Application permissions of "Office 365 Exchange Online"; any other permission name is a Graph one.
EXCHANGE_APP_ROLES = frozenset(
    {
        "Exchange.ManageAsApp",
        "Exchange.ManageAsAppV2",
        "SMTP.SendAsApp",
        "IMAP.AccessAsApp",
        "POP.AccessAsApp",
    }
)
AUTH_POLICY_SWITCHES = (
    "AllowBasicAuthActiveSync",
    "AllowBasicAuthAutodiscover",
    "AllowBasicAuthImap",
    "AllowBasicAuthMapi",
    "AllowBasicAuthOfflineAddressBook",
    "AllowBasicAuthOutlookService",
    "AllowBasicAuthPop",
    "AllowBasicAuthPowershell",
    "AllowBasicAuthReportingWebServices",
    "AllowBasicAuthRpc",
    "AllowBasicAuthSmtp",
    "AllowBasicAuthWebServices",
)
CAS_PROTOCOLS = ("ActiveSyncEnabled", "OWAEnabled", "PopEnabled", "ImapEnabled", "MAPIEnabled", "EwsEnabled")
MFA_STATES = ("disabled", "enabled", "enforced")
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


@dataclass
class Mailbox:
    """An Exchange Online mailbox. `smtp_client_authentication_disabled` None means: inherit the org value."""

    guid: str
    smtp_client_authentication_disabled: bool | None = None
    protocols: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(CAS_PROTOCOLS, True))


@dataclass
class User:
    id: str
    user_principal_name: str
    display_name: str
    mail: str | None
    account_enabled: bool = True
    assigned_licenses: list[dict[str, Any]] = field(default_factory=list)
    user_type: str = "Member"
    per_user_mfa_state: str = "disabled"
    has_registered_mfa_method: bool = False
    mailbox: Mailbox | None = None
    authentication_policy: str | None = None
    smtp_password: str | None = field(default=None, repr=False)

    @property
    def alias(self) -> str:
        return self.user_principal_name.split("@")[0]


@dataclass
class Group:
    id: str
    display_name: str
    members: list[str] = field(default_factory=list)


@dataclass
class DirectoryRole:
    id: str
    role_template_id: str
    display_name: str
    members: list[str] = field(default_factory=list)


@dataclass
class AuthenticationPolicy:
    """An Exchange authentication policy; `switches` holds every AllowBasicAuth* value by its wire name."""

    id: str
    name: str
    switches: dict[str, bool]


@dataclass
class AppRegistration:
    """An app registration and its service principal in one tenant (the sandbox's apps are single-tenant)."""

    client_id: str
    display_name: str
    service_principal_id: str
    client_secret: str = field(repr=False)
    graph_roles: set[str] = field(default_factory=set)
    exchange_roles: set[str] = field(default_factory=set)
    directory_roles: set[str] = field(default_factory=set)
    certificates: list[x509.Certificate] = field(default_factory=list)

    def certificate(
        self, *, sha1: bytes | None = None, sha256: bytes | None = None
    ) -> x509.Certificate | None:
        """The registered certificate with this thumbprint (raw digest bytes, as in `x5t` / `x5t#S256`)."""
        for cert in self.certificates:
            if sha1 == cert.fingerprint(hashes.SHA1()) or sha256 == cert.fingerprint(hashes.SHA256()):
                return cert
        return None

    @property
    def role_template_ids(self) -> list[str]:
        return sorted(DIRECTORY_ROLES[name] for name in self.directory_roles)


@dataclass
class TenantState:
    """One tenant: directory, security defaults, Conditional Access, Exchange settings, app registrations."""

    key: str
    id: str
    display_name: str
    domains: list[str]
    security_defaults_enabled: bool = False
    smtp_client_authentication_disabled: bool = True
    allow_legacy_tls_clients: bool = False
    default_authentication_policy: str | None = None
    authentication_policies: list[AuthenticationPolicy] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    directory_roles: list[DirectoryRole] = field(default_factory=list)
    conditional_access_policies: list[dict[str, Any]] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    apps: list[AppRegistration] = field(default_factory=list)

    @property
    def initial_domain(self) -> str:
        return next((d for d in self.domains if d.endswith(".onmicrosoft.com")), self.domains[0])

    def derived_id(self, kind: str, name: str) -> str:
        """A stable GUID for an object the seed names but does not number."""
        return str(uuid.uuid5(uuid.UUID(self.id), f"{kind}:{name.lower()}"))

    def user(self, ref: str) -> User | None:
        """A user by object id or user principal name (case-insensitive)."""
        ref = ref.lower()
        return next((u for u in self.users if ref in (u.id, u.user_principal_name.lower())), None)

    def group(self, ref: str) -> Group | None:
        return next((g for g in self.groups if ref.lower() in (g.id, g.display_name.lower())), None)

    def authentication_policy(self, name: str) -> AuthenticationPolicy | None:
        return next((p for p in self.authentication_policies if name.lower() in (p.name.lower(), p.id)), None)

    def app(self, client_id: str) -> AppRegistration | None:
        return next((a for a in self.apps if a.client_id == client_id.lower()), None)

    def member_of(self, user: User) -> list[Group | DirectoryRole]:
        """The groups and directory roles `user` belongs to (directly; the seed has no nested groups)."""
        return [g for g in self.groups if user.id in g.members] + [
            r for r in self.directory_roles if user.id in r.members
        ]

    def role(self, name_or_template: str) -> DirectoryRole:
        """The activated directory role, activating it on first use as Entra does."""
        template = DIRECTORY_ROLES.get(name_or_template, name_or_template)
        for role in self.directory_roles:
            if role.role_template_id == template:
                return role
        name = next((n for n, t in DIRECTORY_ROLES.items() if t == template), None)
        if name is None:
            raise ValueError(f"unknown directory role {name_or_template!r}")
        role = DirectoryRole(self.derived_id("role", template), template, name)
        self.directory_roles.append(role)
        return role

    def add_user(
        self,
        upn: str,
        *,
        id: str | None = None,
        display_name: str | None = None,
        mail: str | None = None,
        account_enabled: bool = True,
        licensed: bool = True,
        user_type: str = "Member",
        mailbox: bool = True,
        smtp_client_authentication_disabled: bool | None = None,
        per_user_mfa_state: str = "disabled",
        has_registered_mfa_method: bool = False,
        authentication_policy: str | None = None,
        smtp_password: str | None = None,
        groups: Iterable[str] = (),
        roles: Iterable[str] = (),
    ) -> User:
        """Add a user; by default licensed, enabled, with a mailbox inheriting the org SMTP AUTH setting."""
        if self.user(upn) is not None:
            raise ValueError(f"{upn} already exists in {self.key}")
        if per_user_mfa_state not in MFA_STATES:
            raise ValueError(f"perUserMfaState must be one of {MFA_STATES}, not {per_user_mfa_state!r}")
        if authentication_policy is not None and self.authentication_policy(authentication_policy) is None:
            raise ValueError(f"no authentication policy {authentication_policy!r} in {self.key}")
        user = User(
            id=(id or self.derived_id("user", upn)).lower(),
            user_principal_name=upn,
            display_name=display_name or upn.split("@")[0],
            mail=mail or (upn if mailbox else None),
            account_enabled=account_enabled,
            assigned_licenses=[{"skuId": OFFICE_365_E3, "disabledPlans": []}] if licensed else [],
            user_type=user_type,
            per_user_mfa_state=per_user_mfa_state,
            has_registered_mfa_method=has_registered_mfa_method,
            mailbox=Mailbox(self.derived_id("mailbox", upn), smtp_client_authentication_disabled)
            if mailbox
            else None,
            authentication_policy=authentication_policy,
            smtp_password=smtp_password,
        )
        self.users.append(user)
        for name in groups:
            group = self.group(name)
            if group is None:
                raise ValueError(f"no group {name!r} in {self.key}")
            group.members.append(user.id)
        for name in roles:
            self.role(name).members.append(user.id)
        return user


class SandboxState:
    """All sandbox tenants plus the knobs tests turn: clock, faults, token lifetime, request log.

    Client secrets are generated once per `SandboxState` and survive `reset()`, so a written
    `sandbox.env` stays valid; registered certificates, users added at runtime, faults and the
    request log do not, nor do the SMTP stand-in's knobs, sessions and accepted messages.
    """

    def __init__(self, seed: Path | str | dict[str, Any] | None = None, clock: Clock | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock or SYSTEM_CLOCK
        self.faults = FaultSet(self.clock)
        self.requests = RequestLog()
        self.smtp_faults = SmtpFaults()
        self.smtp_sessions: list[SmtpSession] = []
        self.smtp_messages: list[SmtpMessage] = []
        if isinstance(seed, dict):
            self._seed = copy.deepcopy(seed)
        else:
            self._seed = yaml.safe_load(Path(seed or SEED_PATH).read_text())
        self._secrets: dict[str, str] = {}
        self.tenants: dict[str, TenantState] = {}
        self.token_lifetime = DEFAULT_TOKEN_LIFETIME
        self.basic_auth_retired = False
        self.reset()

    def reset(self) -> None:
        """Back to the seed: tenants rebuilt, faults and request log cleared, knobs at their defaults."""
        with self.lock:
            self.tenants = {key: self._load_tenant(key, raw) for key, raw in self._seed["tenants"].items()}
            self.token_lifetime = DEFAULT_TOKEN_LIFETIME
            self.basic_auth_retired = False
            self.faults.clear()
            self.requests.clear()
            self.smtp_faults.clear()
            self.smtp_sessions.clear()
            self.smtp_messages.clear()

    def find_tenant(self, ref: str) -> TenantState | None:
        """A tenant by seed key, GUID or any of its domains (case-insensitive)."""
        ref = ref.lower()
        with self.lock:
            return next(
                (
                    t
                    for t in self.tenants.values()
                    if ref in (t.key, t.id) or ref in (d.lower() for d in t.domains)
                ),
                None,
            )

    def tenant(self, ref: str) -> TenantState:
        found = self.find_tenant(ref)
        if found is None:
            raise KeyError(f"no sandbox tenant {ref!r}")
        return found

    def find_app(self, client_id: str) -> tuple[TenantState, AppRegistration]:
        with self.lock:
            for tenant in self.tenants.values():
                app = tenant.app(client_id)
                if app is not None:
                    return tenant, app
        raise KeyError(f"no app registration {client_id!r}")

    def add_user(self, tenant: str, upn: str, **options: Any) -> User:
        """Add a user to `tenant` (key, GUID or domain); options as in `TenantState.add_user`."""
        with self.lock:
            return self.tenant(tenant).add_user(upn, **options)

    def client_secret(self, client_id: str) -> str:
        return self.find_app(client_id)[1].client_secret

    def grant(self, client_id: str, permission_or_role: str) -> None:
        """Grant an application permission (Graph or Exchange) or assign a directory role (display name)."""
        with self.lock:
            app = self.find_app(client_id)[1]
            if " " in permission_or_role and permission_or_role not in DIRECTORY_ROLES:
                raise ValueError(f"unknown directory role {permission_or_role!r}")
            self._grants(app, permission_or_role).add(permission_or_role)

    def revoke(self, client_id: str, permission_or_role: str) -> None:
        with self.lock:
            app = self.find_app(client_id)[1]
            self._grants(app, permission_or_role).discard(permission_or_role)

    def register_certificate(self, client_id: str, cert_pem: str | bytes) -> str:
        """Upload a public certificate to the app's credentials; returns its SHA-1 thumbprint (hex)."""
        cert = x509.load_pem_x509_certificate(cert_pem.encode() if isinstance(cert_pem, str) else cert_pem)
        with self.lock:
            self.find_app(client_id)[1].certificates.append(cert)
        return cert.fingerprint(hashes.SHA1()).hex()

    def set_basic_auth_retired(self, retired: bool) -> None:
        """Whether Basic auth for SMTP AUTH is retired (read by the SMTP stand-in)."""
        with self.lock:
            self.basic_auth_retired = retired

    @staticmethod
    def _grants(app: AppRegistration, name: str) -> set[str]:
        if name in DIRECTORY_ROLES:
            return app.directory_roles
        return app.exchange_roles if name in EXCHANGE_APP_ROLES else app.graph_roles

    def _load_tenant(self, key: str, raw: dict[str, Any]) -> TenantState:
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
                    client_secret=self._secrets.setdefault(client_id, secrets.token_urlsafe(30)),
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
