"""The sandbox's stand-in tenants: users, mailboxes, groups, roles, policies and app registrations."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from sandbox.app_access import AppAccess
from sandbox.user_index import INDEXED, Members, UserDirectory

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

    def __setattr__(self, name: str, value: Any) -> None:
        directory = self.__dict__.get("_directory")
        if directory is not None and name in INDEXED:
            directory.reindexed(self, lambda: object.__setattr__(self, name, value))
        else:
            object.__setattr__(self, name, value)


@dataclass
class Group:
    id: str
    display_name: str
    members: Members = field(default_factory=Members)

    def __post_init__(self) -> None:
        self.members = Members(self.members)


@dataclass
class DirectoryRole:
    id: str
    role_template_id: str
    display_name: str
    members: Members = field(default_factory=Members)

    def __post_init__(self) -> None:
        self.members = Members(self.members)


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
    users: UserDirectory = field(default_factory=UserDirectory)
    apps: list[AppRegistration] = field(default_factory=list)
    #: An Entra ID P1 (or P2) licence: Graph serves sign-in logs only then (`sandbox.signins`).
    entra_id_p1: bool = False
    sign_ins: list[Any] = field(default_factory=list)  # sandbox.signins.SignIn, newest last
    app_access: AppAccess = field(default_factory=AppAccess)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "users" and not isinstance(value, UserDirectory):
            value = UserDirectory(value)  # a plain list assigned here is indexed too
        object.__setattr__(self, name, value)

    @property
    def initial_domain(self) -> str:
        return next((d for d in self.domains if d.endswith(".onmicrosoft.com")), self.domains[0])

    def derived_id(self, kind: str, name: str) -> str:
        """A stable GUID for an object the seed names but does not number."""
        return str(uuid.uuid5(uuid.UUID(self.id), f"{kind}:{name.lower()}"))

    def user(self, ref: str) -> User | None:
        """A user by object id or user principal name (case-insensitive); an index lookup, not a scan."""
        return self.users.first(ref.lower(), ("id", "upn"))

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
