"""The Exchange cmdlets the sandbox answers from the tenant's state: CAS mailboxes, users, org settings.

Each takes the tenant and the bound parameters and returns an `Outcome` or raises `CmdletError` with the
reply Exchange sends (not found, parameter binding, OPATH filter errors).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.filterable import FILTERABLE
from sandbox.opath import FilterError, compile_filter
from sandbox.tenant import CAS_PROTOCOLS, TenantState, User
from sandbox.user_index import KINDS as IDENTITY_KINDS
from sandbox.wire import EXCHANGE_SERVER, Reply, exchange_error

DEFAULT_RESULT_SIZE = 1000
NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
BINDING = "System.Management.Automation.ParameterBindingException"


class CmdletError(Exception):
    """A cmdlet failure, carrying the reply the service sends for it."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


@dataclass
class Outcome:
    objects: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


Cmdlet = Callable[[TenantState, dict[str, Any]], Outcome]


def not_found(identity: str) -> CmdletError:
    text = (
        f"The operation couldn't be performed because object '{identity}' couldn't be found on "
        f"'{EXCHANGE_SERVER}'."
    )
    return CmdletError(exchange_error(404, "NotFound", NOT_FOUND, text))


def binding_error(text: str) -> CmdletError:
    return CmdletError(exchange_error(400, "BadRequest", BINDING, text, tag="ExB10C9A"))


# --- objects ------------------------------------------------------------------------------------------


def _cas_mailbox(user: User) -> dict[str, Any]:
    assert user.mailbox is not None
    return {
        "Identity": user.alias,
        "Name": user.alias,
        "DisplayName": user.display_name,
        "PrimarySmtpAddress": user.mail,
        "ExternalDirectoryObjectId": user.id,
        "Guid": user.mailbox.guid,
        "SmtpClientAuthenticationDisabled": user.mailbox.smtp_client_authentication_disabled,
        **user.mailbox.protocols,
        "IsValid": True,
    }


def _user(tenant: TenantState, user: User) -> dict[str, Any]:
    kind = "UserMailbox" if user.mailbox else "User"
    # Get-User and Get-CASMailbox present one directory object: both Guids are its objectGuid
    # (filter-properties.md gives Guid the LDAP name objectGuid on both cmdlets).
    guid = user.mailbox.guid if user.mailbox else tenant.derived_id("exchangeuser", user.user_principal_name)
    return {
        "Identity": user.alias,
        "Name": user.alias,
        "DisplayName": user.display_name,
        "UserPrincipalName": user.user_principal_name,
        "ExternalDirectoryObjectId": user.id,
        "WindowsEmailAddress": user.mail or "",
        "AuthenticationPolicy": user.authentication_policy,
        "RecipientType": kind,
        "RecipientTypeDetails": kind,
        "AccountDisabled": not user.account_enabled,
        "Guid": guid,
        "IsValid": True,
    }


def _find(tenant: TenantState, identity: Any, *, mailbox: bool) -> User:
    """A user by UPN, SMTP address, alias, display name, Entra object id or mailbox GUID (indexed)."""
    ref = str(identity).lower()
    if ref:
        candidates = tenant.users.find(ref, IDENTITY_KINDS)
    else:  # an empty identity matched whoever lacks a mail address or a mailbox; kept as it was
        candidates = [u for u in tenant.users if not u.mail or not u.mailbox]
    user = next((u for u in candidates if u.mailbox or not mailbox), None)
    if user is None:
        raise not_found(str(identity))
    return user


def _select_users(
    tenant: TenantState,
    args: dict[str, Any],
    *,
    mailbox: bool,
    view: Callable[[User], dict[str, Any]],
    filterable: frozenset[str],
) -> Outcome:
    """Get-* over users: one by -Identity, or all matching -Filter, at most -ResultSize."""
    if "Identity" in args and "Filter" in args:
        raise binding_error("Parameter set cannot be resolved using the specified named parameters.")
    if "Identity" in args:
        return Outcome([view(_find(tenant, args["Identity"], mailbox=mailbox))])
    candidates = [u for u in tenant.users if u.mailbox or not mailbox]
    if "Filter" in args:
        try:
            predicate = compile_filter(str(args["Filter"]), filterable)
        except FilterError as exc:
            raise binding_error(
                f'Cannot bind parameter \'Filter\' to the target. Exception setting "Filter": "{exc}"'
            ) from None
        candidates = [u for u in candidates if predicate(view(u))]
    limit = _result_size(args.get("ResultSize", DEFAULT_RESULT_SIZE))
    outcome = Outcome([view(u) for u in candidates[:limit]])
    if limit < len(candidates):
        outcome.warnings.append(
            "There are more results available than are currently displayed. To view them, increase the "
            "value for the ResultSize parameter."
        )
    return outcome


def _result_size(value: Any) -> int:
    if isinstance(value, str) and value.lower() == "unlimited":
        return 1 << 31
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    raise binding_error(
        f"Cannot process argument transformation on parameter 'ResultSize'. Cannot convert value \"{value}\" "
        'to type "Microsoft.Exchange.Data.Unlimited`1[System.UInt32]".'
    )


def _boolean(name: str, value: Any, *, nullable: bool = False) -> bool | None:
    if isinstance(value, bool) or (value is None and nullable):
        return value
    target = "System.Nullable`1[System.Boolean]" if nullable else "System.Boolean"
    raise binding_error(
        f"Cannot process argument transformation on parameter '{name}'. Cannot convert value \"{value}\" to "
        f'type "{target}". Boolean parameters accept only Boolean values and numbers, such as $True, $False, '
        "1 or 0."
    )


def _identity(args: dict[str, Any]) -> Any:
    if args.get("Identity") in (None, ""):
        raise binding_error(
            "Cannot process command because of one or more missing mandatory parameters: Identity."
        )
    return args["Identity"]


def _no_change(identity: str) -> Outcome:
    return Outcome(
        warnings=[f"The command completed successfully but no settings of '{identity}' have been modified."]
    )


# --- cmdlets ------------------------------------------------------------------------------------------


def get_cas_mailbox(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    return _select_users(tenant, args, mailbox=True, view=_cas_mailbox, filterable=FILTERABLE["get-casmailbox"])


def set_cas_mailbox(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    user = _find(tenant, _identity(args), mailbox=True)
    assert user.mailbox is not None
    changes: dict[str, bool | None] = {}
    for name, value in args.items():
        if name != "Identity":
            changes[name] = _boolean(name, value, nullable=name == "SmtpClientAuthenticationDisabled")
    before = _cas_mailbox(user)
    for name, value in changes.items():
        if name == "SmtpClientAuthenticationDisabled":
            user.mailbox.smtp_client_authentication_disabled = value
        else:
            user.mailbox.protocols[name] = bool(value)
    return _no_change(user.alias) if _cas_mailbox(user) == before else Outcome()


def get_transport_config(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    return Outcome([_transport_config(tenant)])


def set_transport_config(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    values = {name: _boolean(name, value) for name, value in args.items()}
    before = _transport_config(tenant)
    if "SmtpClientAuthenticationDisabled" in values:
        tenant.smtp_client_authentication_disabled = bool(values["SmtpClientAuthenticationDisabled"])
    if "AllowLegacyTLSClients" in values:
        tenant.allow_legacy_tls_clients = bool(values["AllowLegacyTLSClients"])
    return _no_change("Transport Settings") if _transport_config(tenant) == before else Outcome()


def _transport_config(tenant: TenantState) -> dict[str, Any]:
    return {
        "Identity": "Transport Settings",
        "Name": "Transport Settings",
        "SmtpClientAuthenticationDisabled": tenant.smtp_client_authentication_disabled,
        "AllowLegacyTLSClients": tenant.allow_legacy_tls_clients,
        "MaxSendSize": "35 MB (36,700,160 bytes)",
        "MaxReceiveSize": "36 MB (37,748,736 bytes)",
        "IsValid": True,
    }


def get_organization_config(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    return Outcome(
        [
            {
                "Identity": tenant.initial_domain,
                "Name": tenant.initial_domain,
                "DisplayName": tenant.display_name,
                "DefaultAuthenticationPolicy": tenant.default_authentication_policy,
                "OAuth2ClientProfileEnabled": True,
                "Guid": tenant.derived_id("organization", tenant.initial_domain),
                "IsValid": True,
            }
        ]
    )


def get_user(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    return _select_users(
        tenant, args, mailbox=False, view=lambda u: _user(tenant, u), filterable=FILTERABLE["get-user"]
    )


def set_user(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    user = _find(tenant, _identity(args), mailbox=False)
    if "AuthenticationPolicy" not in args:
        return _no_change(user.alias)
    name = args["AuthenticationPolicy"]
    policy = tenant.authentication_policy(str(name)) if name not in (None, "") else None
    if name not in (None, "") and policy is None:
        raise not_found(str(name))
    new = policy.name if policy else None
    if new == user.authentication_policy:
        return _no_change(user.alias)
    user.authentication_policy = new
    return Outcome()


def get_authentication_policy(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    policies = tenant.authentication_policies
    if args.get("Identity") not in (None, ""):
        policy = tenant.authentication_policy(str(args["Identity"]))
        if policy is None:
            raise not_found(str(args["Identity"]))
        policies = [policy]
    return Outcome(
        [{"Identity": p.name, "Name": p.name, "Guid": p.id, **p.switches, "IsValid": True} for p in policies]
    )


#: lower-case name -> (canonical name, implementation, accepted parameters)
CMDLETS: dict[str, tuple[str, Cmdlet, tuple[str, ...]]] = {
    spec[0].lower(): spec
    for spec in (
        ("Get-CASMailbox", get_cas_mailbox, ("Identity", "Filter", "ResultSize")),
        ("Set-CASMailbox", set_cas_mailbox, ("Identity", "SmtpClientAuthenticationDisabled", *CAS_PROTOCOLS)),
        ("Get-TransportConfig", get_transport_config, ()),
        (
            "Set-TransportConfig",
            set_transport_config,
            ("SmtpClientAuthenticationDisabled", "AllowLegacyTLSClients"),
        ),
        ("Get-OrganizationConfig", get_organization_config, ()),
        ("Get-User", get_user, ("Identity", "Filter", "ResultSize")),
        ("Set-User", set_user, ("Identity", "AuthenticationPolicy")),
        ("Get-AuthenticationPolicy", get_authentication_policy, ("Identity",)),
    )
}
"""The app cmdlets (`sandbox.service_principals`) are added by `sandbox.exchange`."""
