"""What Microsoft says about an app that is to send as a mailbox by SMTP with OAuth (client credentials).

Microsoft's app-only SMTP path (learn.microsoft.com/exchange/client-developer/legacy-protocols/
how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth, "Use client credentials grant flow"): the app
is registered in Entra ID with a service principal in this tenant; the service principal is registered in
Exchange (`New-ServicePrincipal`); and the app may use the mailbox by one of two routes:
- admin consent for the `SMTP.SendAsApp` application permission of "Office 365 Exchange Online" in Entra ID,
  plus `Add-MailboxPermission -AccessRights FullAccess` for the service principal;
- RBAC for Applications (learn.microsoft.com/exchange/permissions-exo/application-rbac): the role
  "Application SMTP.SendAsApp" assigned to the service principal with a management scope that holds only the
  mailboxes it needs, and no consent. Microsoft's SMTP RBAC onboarding (learn.microsoft.com/exchange/
  client-developer/legacy-protocols/smtp-app-rbac-onboarding, 10/2025): "Including the SMTP.SendAsApp claim would
  trigger an unnecessary check for mailbox permissions." A consent does not give the app every mailbox; it puts
  the claim in the app's tokens, and Exchange then requires a mailbox permission, so the scoped role alone fails.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from bot.errors import ExchangeNotFound, InvalidInput
from handlers.base import graph_op

if TYPE_CHECKING:
    from handlers.facts import Facts

READ_APPS_PERMISSION = "Application.Read.All"
EXCHANGE_ONLINE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"  # "Office 365 Exchange Online", every tenant
SEND_AS_APP = "SMTP.SendAsApp"
SCOPED_ROLE = "Application SMTP.SendAsApp"
ROUTES = ("scoped", "full_access")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def normalize_app_id(text: str) -> str:
    """An app (client) id: a GUID, lower-cased; InvalidInput otherwise, before any request."""
    value = (text or "").strip().lower()
    if not _GUID.match(value):
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise InvalidInput(f"'{shown}' is not an app (client) id.",
                           hint="Give the Application (client) ID from Entra admin center › App registrations, "
                           "a GUID such as 3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809.")
    return value


def _read_apps() -> Any:
    return graph_op("read app registrations, service principals and their admin consent", READ_APPS_PERMISSION)


def _by_app_id(facts: Facts, collection: str, app_id: str, select: str) -> dict[str, Any] | None:
    def read() -> dict[str, Any] | None:
        found = facts.m365.graph.get_all(f"/{collection}", _read_apps(), params={
            "$filter": f"appId eq '{app_id}'", "$select": select})
        return found[0] if found else None
    return facts.cached((collection, app_id), read)


def entra_service_principal(facts: Facts, app_id: str) -> dict[str, Any] | None:
    """The app's service principal (enterprise application) in this tenant, or None."""
    return _by_app_id(facts, "servicePrincipals", app_id, "id,appId,displayName,appOwnerOrganizationId")


def entra_application(facts: Facts, app_id: str) -> dict[str, Any] | None:
    """The app registration when it lives in this tenant (a multi-tenant app from elsewhere has none here)."""
    return _by_app_id(facts, "applications", app_id, "id,appId,displayName")


def send_as_app_consented(facts: Facts, sp_id: str) -> bool:
    """Whether admin consent gave the service principal `SMTP.SendAsApp` of Office 365 Exchange Online."""
    def read() -> bool:
        exchange = _by_app_id(facts, "servicePrincipals", EXCHANGE_ONLINE_APP_ID, "id,appId,appRoles")
        if exchange is None:
            return False
        role_ids = {r.get("id") for r in exchange.get("appRoles") or () if r.get("value") == SEND_AS_APP}
        granted = facts.m365.graph.get_all(f"/servicePrincipals/{sp_id}/appRoleAssignments", _read_apps())
        return any(a.get("resourceId") == exchange.get("id") and a.get("appRoleId") in role_ids for a in granted)
    return facts.cached(("consent", sp_id), read)


def exchange_service_principal(facts: Facts, app_id: str) -> dict[str, Any] | None:
    """The app's service principal as registered in Exchange (Get-ServicePrincipal), or None."""
    def read() -> dict[str, Any] | None:
        try:
            found = facts.m365.exchange.invoke("Get-ServicePrincipal", {"Identity": app_id}).value
        except ExchangeNotFound:
            return None
        return found[0] if found else None
    return facts.cached(("exchange_sp", app_id), read)


def scoped_access(facts: Facts, sp_object_id: str, upn: str) -> bool:
    """Whether an "Application SMTP.SendAsApp" assignment covers `upn` (Test-ServicePrincipalAuthorization)."""
    def read() -> bool:
        rows = facts.m365.exchange.invoke(
            "Test-ServicePrincipalAuthorization", {"Identity": sp_object_id, "Resource": upn}).value
        return any(r.get("RoleName") == SCOPED_ROLE and r.get("InScope") is True for r in rows)
    return facts.cached(("scoped_access", f"{sp_object_id}|{upn}"), read)


def full_access(facts: Facts, sp_object_id: str, upn: str) -> bool:
    """Whether the service principal holds FullAccess on the mailbox (Get-MailboxPermission -User)."""
    def read() -> bool:
        rows = facts.m365.exchange.invoke(
            "Get-MailboxPermission", {"Identity": upn, "User": sp_object_id}).value
        return any("FullAccess" in (r.get("AccessRights") or ()) and not r.get("Deny") for r in rows)
    return facts.cached(("full_access", f"{sp_object_id}|{upn}"), read)


def consent_url(login_url: str, tenant_id: str, app_id: str) -> str:
    """Entra ID's admin-consent URL for the app (learn.microsoft.com/entra/identity-platform/
    v2-admin-consent): a Global or Privileged Role Administrator opens it and accepts."""
    return f"{login_url}/{tenant_id}/adminconsent?client_id={app_id}"
