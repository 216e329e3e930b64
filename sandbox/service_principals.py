"""Exchange cmdlets for apps: service principals, mailbox permissions and RBAC for Applications.

Parameter names and shapes follow learn.microsoft.com/powershell/module/exchange: New-/Get-/Remove-ServicePrincipal,
Add-/Get-/Remove-MailboxPermission, New-/Get-/Remove-ManagementScope, New-/Get-/Remove-ManagementRoleAssignment
(`-App` takes the service principal) and Test-ServicePrincipalAuthorization (`-Identity`, `-Resource`). Refusals
are strict: registering a service principal twice, one Entra ID does not have, assigning a role to a service
principal Exchange does not know, deleting a scope a role assignment still uses.
"""

from __future__ import annotations

from typing import Any

from sandbox.app_access import (
    APPLICATION_ROLES,
    ExchangeServicePrincipal,
    MailboxPermission,
    ManagementScope,
    RoleAssignment,
)
from sandbox.exchange_cmdlets import CmdletError, Outcome, _find, binding_error, not_found
from sandbox.opath import FilterError, compile_filter
from sandbox.tenant import TenantState, User
from sandbox.wire import exchange_error

ALREADY_EXISTS = "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException"
OPERATION = "Microsoft.Exchange.Management.Tasks.TaskException"
#: A role assignment's name: "The maximum length of the name is 64 characters" (New-ManagementRoleAssignment -Name).
NAME_LIMIT = 64
#: Recipient properties a -RecipientRestrictionFilter may use here (a subset of those "Filterable properties for
#: the RecipientFilter parameter" lists, learn.microsoft.com/powershell/exchange/recipientfilter-properties).
RECIPIENT_FILTERABLE = frozenset(
    {"Alias", "DisplayName", "Name", "PrimarySmtpAddress", "Guid", "RecipientTypeDetails", "ExternalDirectoryObjectId"}
)


def _error(exception: str, text: str) -> CmdletError:
    return CmdletError(exchange_error(400, "BadRequest", exception, text))


def _required(args: dict[str, Any], *names: str) -> None:
    missing = [n for n in names if args.get(n) in (None, "")]
    if missing:
        raise binding_error(
            f"Cannot process command because of one or more missing mandatory parameters: {' '.join(missing)}."
        )


def _sp_json(sp: ExchangeServicePrincipal) -> dict[str, Any]:
    # Identity and Name of an Exchange service principal reference are the Entra object id
    # (Set-ServicePrincipal's example takes that GUID as -Identity).
    return {
        "Identity": sp.object_id,
        "Name": sp.object_id,
        "DisplayName": sp.display_name,
        "AppId": sp.app_id,
        "ObjectId": sp.object_id,
        "ServiceId": sp.object_id,
        "IsValid": True,
    }


def _sp(tenant: TenantState, ref: Any) -> ExchangeServicePrincipal:
    sp = tenant.app_access.service_principal(str(ref))
    if sp is None:
        raise not_found(str(ref))
    return sp


def new_service_principal(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    object_id = args.get("ObjectId") or args.get("ServiceId")
    if args.get("AppId") in (None, "") or object_id in (None, ""):
        raise binding_error("Cannot process command because of one or more missing mandatory parameters: AppId ObjectId.")
    app_id, object_id = str(args["AppId"]).lower(), str(object_id).lower()
    entra = next((a for a in tenant.apps if a.client_id == app_id), None)
    if entra is None or entra.service_principal_id != object_id:
        raise _error(
            OPERATION,
            f"The service principal with AppId '{app_id}' and ObjectId '{object_id}' wasn't found in Microsoft "
            "Entra ID. Use the Object ID of the enterprise application (service principal), not of the app "
            "registration.",
        )
    if tenant.app_access.service_principal(object_id) or tenant.app_access.service_principal(app_id):
        raise _error(ALREADY_EXISTS, f"A service principal with AppId '{app_id}' already exists.")
    sp = ExchangeServicePrincipal(app_id, object_id, str(args.get("DisplayName") or entra.display_name))
    tenant.app_access.service_principals.append(sp)
    return Outcome([_sp_json(sp)])


def get_service_principal(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    if args.get("Identity") not in (None, ""):
        return Outcome([_sp_json(_sp(tenant, args["Identity"]))])
    return Outcome([_sp_json(sp) for sp in tenant.app_access.service_principals])


def remove_service_principal(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    _required(args, "Identity")
    tenant.app_access.service_principals.remove(_sp(tenant, args["Identity"]))
    return Outcome()


# --- mailbox permissions -----------------------------------------------------------------------------


def _rights(value: Any) -> list[str]:
    rights = [value] if isinstance(value, str) else list(value or [])
    known = {"FullAccess", "SendAs", "ExternalAccount", "DeleteItem", "ReadPermission", "ChangePermission",
             "ChangeOwner"}
    canonical = {k.lower(): k for k in known}
    if not rights or any(str(r).lower() not in canonical for r in rights):
        raise binding_error(
            f"Cannot process argument transformation on parameter 'AccessRights'. Cannot convert value "
            f"\"{value}\" to type \"Microsoft.Exchange.Management.RecipientTasks.MailboxRights[]\"."
        )
    return [canonical[str(r).lower()] for r in rights]


def _permission_json(user: User, entry: MailboxPermission, sp: ExchangeServicePrincipal | None) -> dict[str, Any]:
    return {
        "Identity": user.alias,
        "User": sp.display_name if sp else entry.user,
        "UserSid": None,
        "AccessRights": list(entry.access_rights),
        "IsInherited": False,
        "Deny": False,
        "InheritanceType": "All",
        "IsValid": True,
    }


def _entries(tenant: TenantState, user: User, sp: ExchangeServicePrincipal) -> list[MailboxPermission]:
    return [p for p in tenant.app_access.mailbox_permissions if p.mailbox_id == user.id and p.user == sp.object_id]


def add_mailbox_permission(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    _required(args, "Identity", "User", "AccessRights")
    user = _find(tenant, args["Identity"], mailbox=True)
    sp = _sp(tenant, args["User"])
    rights = _rights(args["AccessRights"])
    existing = _entries(tenant, user, sp)
    if existing and set(rights) <= {r for e in existing for r in e.access_rights}:
        return Outcome(warnings=[f"An existing permission entry was found for user: {sp.display_name}."])
    entry = MailboxPermission(user.id, sp.object_id, rights)
    tenant.app_access.mailbox_permissions.append(entry)
    return Outcome([_permission_json(user, entry, sp)])


def get_mailbox_permission(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    _required(args, "Identity")
    user = _find(tenant, args["Identity"], mailbox=True)
    if args.get("User") not in (None, ""):
        sp = _sp(tenant, args["User"])
        return Outcome([_permission_json(user, e, sp) for e in _entries(tenant, user, sp)])
    self_entry = {"Identity": user.alias, "User": "NT AUTHORITY\\SELF", "UserSid": "S-1-5-10",
                  "AccessRights": ["FullAccess", "ReadPermission"], "IsInherited": False, "Deny": False,
                  "InheritanceType": "All", "IsValid": True}
    rows = [self_entry]
    for entry in (p for p in tenant.app_access.mailbox_permissions if p.mailbox_id == user.id):
        rows.append(_permission_json(user, entry, tenant.app_access.service_principal(entry.user)))
    return Outcome(rows)


def remove_mailbox_permission(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    _required(args, "Identity", "User", "AccessRights")
    user = _find(tenant, args["Identity"], mailbox=True)
    sp = _sp(tenant, args["User"])
    rights = set(_rights(args["AccessRights"]))
    found = False
    for entry in _entries(tenant, user, sp):
        kept = [r for r in entry.access_rights if r not in rights]
        found = found or len(kept) != len(entry.access_rights)
        if kept:
            entry.access_rights = kept
        else:
            tenant.app_access.mailbox_permissions.remove(entry)
    if not found:
        return Outcome(warnings=[f"Can't remove the access control entry on the object \"{user.alias}\" for "
                                 f"account \"{sp.display_name}\" because the ACE doesn't exist on the object."])
    return Outcome()


# --- RBAC for Applications ---------------------------------------------------------------------------


def _recipient_view(user: User) -> dict[str, Any]:
    return {
        "Alias": user.alias,
        "DisplayName": user.display_name,
        "Name": user.alias,
        "PrimarySmtpAddress": user.mail or "",
        "Guid": user.mailbox.guid if user.mailbox else "",
        "RecipientTypeDetails": "UserMailbox" if user.mailbox else "User",
        "ExternalDirectoryObjectId": user.id,
    }


def _scope_json(scope: ManagementScope) -> dict[str, Any]:
    return {
        "Identity": scope.name,
        "Name": scope.name,
        "RecipientFilter": scope.recipient_restriction_filter,
        "ScopeRestrictionType": "RecipientScope",
        "Exclusive": False,
        "IsValid": True,
    }


def in_scope(scope: ManagementScope | None, user: User) -> bool:
    """Whether `user` is in `scope` (None: no scope, the whole organisation)."""
    if scope is None:
        return True
    return bool(compile_filter(scope.recipient_restriction_filter, RECIPIENT_FILTERABLE)(_recipient_view(user)))


def new_management_scope(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    _required(args, "Name", "RecipientRestrictionFilter")
    name, text = str(args["Name"]), str(args["RecipientRestrictionFilter"])
    try:
        compile_filter(text, RECIPIENT_FILTERABLE)
    except FilterError as exc:
        raise binding_error(
            f'Cannot bind parameter \'RecipientRestrictionFilter\' to the target. Exception setting '
            f'"RecipientRestrictionFilter": "{exc}"'
        ) from None
    if tenant.app_access.scope(name) is not None:
        raise _error(ALREADY_EXISTS, f"The management scope \"{name}\" already exists.")
    scope = ManagementScope(name, text)
    tenant.app_access.scopes.append(scope)
    return Outcome([_scope_json(scope)])


def get_management_scope(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    if args.get("Identity") not in (None, ""):
        scope = tenant.app_access.scope(str(args["Identity"]))
        if scope is None:
            raise not_found(str(args["Identity"]))
        return Outcome([_scope_json(scope)])
    return Outcome([_scope_json(s) for s in tenant.app_access.scopes])


def remove_management_scope(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    _required(args, "Identity")
    scope = tenant.app_access.scope(str(args["Identity"]))
    if scope is None:
        raise not_found(str(args["Identity"]))
    users = [a.name for a in tenant.app_access.assignments if a.custom_resource_scope == scope.name]
    if users:
        raise _error(OPERATION, f"The management scope \"{scope.name}\" can't be deleted because it's referenced "
                                f"by management role assignments: {', '.join(users)}.")
    tenant.app_access.scopes.remove(scope)
    return Outcome()


def _assignment_json(tenant: TenantState, assignment: RoleAssignment) -> dict[str, Any]:
    sp = tenant.app_access.service_principal(assignment.app)
    return {
        "Identity": assignment.name,
        "Name": assignment.name,
        "Role": assignment.role,
        "RoleAssignee": assignment.app,
        "RoleAssigneeName": sp.display_name if sp else assignment.app,
        "RoleAssigneeType": "ServicePrincipal",
        "CustomResourceScope": assignment.custom_resource_scope,
        "RecipientWriteScope": "CustomRecipientScope" if assignment.custom_resource_scope else "Organization",
        "Enabled": True,
        "IsValid": True,
    }


def new_management_role_assignment(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    _required(args, "Role", "App")
    role = next((r for r in APPLICATION_ROLES if r.lower() == str(args["Role"]).lower()), None)
    if role is None:
        raise not_found(str(args["Role"]))
    sp = _sp(tenant, args["App"])
    scope_name = args.get("CustomResourceScope")
    if scope_name not in (None, "") and tenant.app_access.scope(str(scope_name)) is None:
        raise not_found(str(scope_name))
    scope = tenant.app_access.scope(str(scope_name)) if scope_name else None
    if len(str(args.get("Name") or "")) > NAME_LIMIT:  # a name Exchange makes up is cut short; a given one refused
        raise binding_error(f"Cannot validate argument on parameter 'Name'. The length of the argument is too long; "
                            f"the maximum length is {NAME_LIMIT} characters.")
    name = str(args.get("Name") or f"{role}-{sp.display_name}")[:NAME_LIMIT]
    if tenant.app_access.assignment(name) is not None:
        raise _error(ALREADY_EXISTS, f"The role assignment \"{name}\" already exists.")
    assignment = RoleAssignment(name, role, sp.object_id, scope.name if scope else None)
    tenant.app_access.assignments.append(assignment)
    return Outcome([_assignment_json(tenant, assignment)])


def get_management_role_assignment(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    found = list(tenant.app_access.assignments)
    if args.get("Identity") not in (None, ""):
        assignment = tenant.app_access.assignment(str(args["Identity"]))
        if assignment is None:
            raise not_found(str(args["Identity"]))
        found = [assignment]
    if args.get("RoleAssignee") not in (None, ""):
        sp = _sp(tenant, args["RoleAssignee"])
        found = [a for a in found if a.app == sp.object_id]
    if args.get("Role") not in (None, ""):
        found = [a for a in found if a.role.lower() == str(args["Role"]).lower()]
    return Outcome([_assignment_json(tenant, a) for a in found])


def remove_management_role_assignment(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    _required(args, "Identity")
    assignment = tenant.app_access.assignment(str(args["Identity"]))
    if assignment is None:
        raise not_found(str(args["Identity"]))
    tenant.app_access.assignments.remove(assignment)
    return Outcome()


def test_service_principal_authorization(tenant: TenantState, args: dict[str, Any]) -> Outcome:
    _required(args, "Identity")
    sp = _sp(tenant, args["Identity"])
    user = _find(tenant, args["Resource"], mailbox=True) if args.get("Resource") not in (None, "") else None
    rows = []
    for assignment in (a for a in tenant.app_access.assignments if a.app == sp.object_id):
        scope = tenant.app_access.scope(assignment.custom_resource_scope or "")
        rows.append({
            "RoleName": assignment.role,
            "GrantedPermissions": assignment.role.removeprefix("Application "),
            "AllowedResourceScope": scope.name if scope else "Organization",
            "ScopeType": "CustomRecipientScope" if scope else "Organization",
            "InScope": in_scope(scope, user) if user is not None else None,
        })
    return Outcome(rows)


#: lower-case name -> (canonical name, implementation, accepted parameters), merged into `exchange_cmdlets.CMDLETS`.
APP_CMDLETS: dict[str, tuple[str, Any, tuple[str, ...]]] = {
    spec[0].lower(): spec
    for spec in (
        ("New-ServicePrincipal", new_service_principal, ("AppId", "ObjectId", "ServiceId", "DisplayName")),
        ("Get-ServicePrincipal", get_service_principal, ("Identity",)),
        ("Remove-ServicePrincipal", remove_service_principal, ("Identity", "Confirm")),
        ("Add-MailboxPermission", add_mailbox_permission,
         ("Identity", "User", "AccessRights", "InheritanceType", "AutoMapping")),
        ("Get-MailboxPermission", get_mailbox_permission, ("Identity", "User")),
        ("Remove-MailboxPermission", remove_mailbox_permission,
         ("Identity", "User", "AccessRights", "InheritanceType", "Confirm")),
        ("New-ManagementScope", new_management_scope, ("Name", "RecipientRestrictionFilter")),
        ("Get-ManagementScope", get_management_scope, ("Identity",)),
        ("Remove-ManagementScope", remove_management_scope, ("Identity", "Confirm")),
        ("New-ManagementRoleAssignment", new_management_role_assignment,
         ("Name", "Role", "App", "CustomResourceScope")),
        ("Get-ManagementRoleAssignment", get_management_role_assignment, ("Identity", "RoleAssignee", "Role")),
        ("Remove-ManagementRoleAssignment", remove_management_role_assignment, ("Identity", "Confirm")),
        ("Test-ServicePrincipalAuthorization", test_service_principal_authorization, ("Identity", "Resource")),
    )
}
