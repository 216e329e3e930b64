"""Register the app's service principal in Exchange (New-ServicePrincipal), so Exchange can grant it a mailbox.

learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-
by-using-oauth ("Register service principals in Exchange"), learn.microsoft.com/powershell/module/exchange/
new-serviceprincipal: -AppId is the app (client) id, -ObjectId the enterprise application's object id (not
the app registration's). Undo: Remove-ServicePrincipal. The *-ServicePrincipal and *-ManagementRoleAssignment
cmdlets need Exchange's "Role Management" role (Organization Management; Microsoft365DSC's EXOServicePrincipal
and EXOManagementRoleAssignment settings.json), which the Entra role Exchange Administrator brings.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bot.errors import BotError, ExchangeNotFound
from handlers.app_facts import (
    READ_APPS_PERMISSION,
    entra_service_principal,
    exchange_service_principal,
    full_access,
)
from handlers.app_step import AppStep
from handlers.base import Finding, Permission, Status, fresh_facts

if TYPE_CHECKING:
    from bot.m365.tenant import M365
    from handlers.facts import Facts

ROLE_MANAGEMENT = Permission(
    "Exchange Administrator", "Entra role",
    "register service principals and assign RBAC for Applications roles (Exchange's Role Management role, "
    "held by Organization Management)")


class ExchangeServicePrincipal(AppStep):
    key = "exchange_service_principal"
    title = "The app's service principal in Exchange"
    label = "register the app's service principal in Exchange (New-ServicePrincipal -AppId -ObjectId)"
    report_order = 92
    plan_priority = 12
    docs = "https://learn.microsoft.com/powershell/module/exchange/new-serviceprincipal"
    scope = "app"  # an Exchange object that grants nothing by itself: one approver, not a wide change
    flag = "registered"
    on_text = "registered in Exchange"
    off_text = "not registered in Exchange"
    impact = ("Tenant-wide object, no access by itself: Exchange learns of the app so that a role or a mailbox "
              "permission can be given to it. Nothing can send until the next step grants a mailbox.")
    permissions = (
        Permission(READ_APPS_PERMISSION, "Microsoft Graph", "find the app's service principal",
                   covered_by=("Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")),
        Permission("Exchange.ManageAsApp", "Office 365 Exchange Online", "run Get-/New-/Remove-ServicePrincipal"),
        ROLE_MANAGEMENT,
    )

    def present(self, facts: Facts, upn: str, value: dict[str, Any]) -> bool:
        return exchange_service_principal(facts, value["app_id"]) is not None

    def put(self, m365: M365, upn: str, value: dict[str, Any], on: bool) -> None:
        if on:
            m365.exchange.invoke("New-ServicePrincipal", {
                "AppId": value["app_id"], "ObjectId": value["object_id"], "DisplayName": value["display_name"]})
        else:
            self._still_granted(m365, upn, value)
            m365.exchange.invoke("Remove-ServicePrincipal", {"Identity": value["object_id"]})

    def _still_granted(self, m365: M365, upn: str, value: dict[str, Any]) -> None:
        """Refuse to unregister an app Exchange still grants something: undo the grant first, or it is orphaned."""
        found = self.remaining_grants(m365, value, [upn])
        if found:
            raise BotError(f"The app still has access in Exchange ({'; '.join(found)}); undo its mailbox access "
                           "first, then this registration.", hint="Undo the access step on this card (and on "
                           "every other onboarding with this app), then this one.")

    def remaining_grants(self, m365: M365, value: dict[str, Any], mailboxes: Iterable[str]) -> list[str]:
        """What Exchange still grants the app, in words: every role assignment it holds, tenant-wide
        (`Get-ManagementRoleAssignment -RoleAssignee`), and FullAccess on each of `mailboxes`. Exchange has no
        tenant-wide query for a trustee's mailbox permissions (`Get-MailboxPermission` needs -Identity), so the
        caller names the mailboxes it knows the app was given (this one, and the bot's other onboardings)."""
        facts = fresh_facts(m365)
        roles = m365.exchange.invoke("Get-ManagementRoleAssignment", {"RoleAssignee": value["object_id"]}).value
        found = [f"role assignment '{r.get('Name')}'" for r in roles]
        for upn in dict.fromkeys(mailboxes):
            try:
                if full_access(facts, value["object_id"], upn):
                    found.append(f"FullAccess on {upn}")
            except ExchangeNotFound:
                continue  # no such mailbox any more: nothing granted on it
        return found

    def assess(self, facts: Facts, upn: str, auth_mode: str) -> Finding:
        app = facts.app
        sp = entra_service_principal(facts, app.app_id) if app else None
        if app is None or sp is None:
            return self.finding(Status.NOT_APPLICABLE, "The app has no service principal in this tenant yet.")
        value = {"app_id": app.app_id, "object_id": str(sp["id"]), "display_name": str(sp.get("displayName") or
                                                                                      app.app_id)[:256],
                 self.flag: False}
        found = exchange_service_principal(facts, app.app_id)
        if found is not None:
            return self.finding(Status.OK, f"Registered in Exchange as {found.get('DisplayName') or app.app_id}.",
                                current={**value, self.flag: True}, evidence={"exchange": found})
        return self.finding(Status.CHANGE, "Exchange does not know the app yet (Get-ServicePrincipal finds nothing).",
                            current=value, proposed={**value, self.flag: True})
