"""Give the app this one mailbox: a scoped RBAC-for-Applications role (default) or FullAccess (with consent).

Scoped (learn.microsoft.com/exchange/permissions-exo/application-rbac): `New-ManagementScope` whose
recipient filter matches only this mailbox, then `New-ManagementRoleAssignment -App <service principal>
-Role "Application SMTP.SendAsApp" -CustomResourceScope <scope>`; verified with
`Test-ServicePrincipalAuthorization -Identity <service principal> -Resource <mailbox>`. The app can send as
this mailbox and no other, and needs no Entra consent: with SMTP.SendAsApp consented, the token carries the claim
and Exchange checks for a mailbox permission instead, which the scoped role is not (see `handlers.app_facts`).

FullAccess (learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-
smtp-application-by-using-oauth): `Add-MailboxPermission -User <service principal> -AccessRights FullAccess`,
which also needs admin consent for SMTP.SendAsApp in Entra ID; FullAccess lets the app open the mailbox's
content too, beyond sending. Chosen with `--full-access`.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from bot.errors import BotError, ExchangeNotFound
from handlers.app_facts import (
    SCOPED_ROLE,
    entra_service_principal,
    exchange_service_principal,
    full_access,
    scoped_access,
    send_as_app_consented,
)
from handlers.app_step import AppStep
from handlers.base import Finding, Permission, Status, fresh_facts
from handlers.exchange_service_principal import ROLE_MANAGEMENT

if TYPE_CHECKING:
    from bot.m365.tenant import M365
    from handlers.facts import Facts

READ_APPS = Permission("Application.Read.All", "Microsoft Graph", "find the app's service principal and consent",
                       covered_by=("Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"))


#: Exchange's limit for a role assignment's name (learn.microsoft.com/powershell/module/exchange/
#: new-managementroleassignment, -Name: "The maximum length of the name is 64 characters").
NAME_LIMIT = 64


def scope_name(app_id: str, upn: str) -> str:
    """The management scope and role assignment this step creates, one per app and mailbox (64 characters max).

    It ends with a hash of the app id and the address, so two long addresses that share a beginning never share
    a name; the address itself is kept while it fits, cut short when not (for a human reading the list).
    """
    digest = hashlib.sha1(f"{app_id.lower()}|{upn.lower()}".encode(), usedforsecurity=False).hexdigest()[:12]
    head = f"SMTP OAuth {app_id[:8]} "
    room = NAME_LIMIT - len(head) - len(digest) - 1
    return f"{head}{upn.lower()[:room]} {digest}"


def _opath(value: str) -> str:
    return value.replace("'", "''")


class _MailboxAccess(AppStep):
    route: str
    flag = "granted"
    report_order = 93
    scope = "mailbox"
    permissions = (READ_APPS, Permission("Exchange.ManageAsApp", "Office 365 Exchange Online",
                                         "read and change what the app may do with the mailbox"), ROLE_MANAGEMENT)

    def other_route(self, facts: Facts, sp_object_id: str, upn: str) -> bool:
        raise NotImplementedError

    def granted(self, facts: Facts, sp_object_id: str, upn: str) -> bool:
        raise NotImplementedError

    def assess(self, facts: Facts, upn: str, auth_mode: str) -> Finding:
        app = facts.app
        if app is None or app.route != self.route:
            return self.finding(Status.NOT_APPLICABLE, "The other route was asked for.")
        sp = entra_service_principal(facts, app.app_id)
        mailbox = facts.mailbox(upn)
        if sp is None or mailbox is None:
            return self.finding(Status.NOT_APPLICABLE, "Needs the app's service principal and a mailbox first.")
        value = self.value(app.app_id, str(sp["id"]), upn, mailbox)
        if exchange_service_principal(facts, app.app_id) is not None:
            if self.granted(facts, value["object_id"], upn):
                return self.finding(Status.OK, f"The app can send as {upn}: {self.on_text}.",
                                    current={**value, self.flag: True})
            if self.other_route(facts, value["object_id"], upn):
                return self.finding(Status.OK, f"The app can already send as {upn} by the other route.",
                                    current=value)
        return self.finding(Status.CHANGE, f"The app has no access to {upn} yet.", current=value,
                            proposed={**value, self.flag: True})

    def value(self, app_id: str, object_id: str, upn: str, mailbox: dict[str, Any]) -> dict[str, Any]:
        return {"app_id": app_id, "object_id": object_id, self.flag: False}


class OAuthScopedAccess(_MailboxAccess):
    key = "oauth_scoped_access"
    title = "The app's access to this mailbox (scoped role)"
    label = ("grant the app this mailbox only: New-ManagementScope + New-ManagementRoleAssignment -App "
             "-Role 'Application SMTP.SendAsApp' -CustomResourceScope")
    plan_priority = 14
    route = "scoped"
    docs = "https://learn.microsoft.com/exchange/permissions-exo/application-rbac"
    on_text = "Application SMTP.SendAsApp, scoped to this mailbox"
    off_text = "no role for this mailbox"
    impact = ("This mailbox only: the app may send mail as it by SMTP with a token, and as no other mailbox (a "
              "management scope matching this address). It cannot read the mailbox.")

    def value(self, app_id: str, object_id: str, upn: str, mailbox: dict[str, Any]) -> dict[str, Any]:
        address = str(mailbox.get("PrimarySmtpAddress") or upn)
        return {"app_id": app_id, "object_id": object_id, "name": scope_name(app_id, upn),
                "filter": f"PrimarySmtpAddress -eq '{_opath(address)}'", self.flag: False}

    def granted(self, facts: Facts, sp_object_id: str, upn: str) -> bool:
        return scoped_access(facts, sp_object_id, upn)

    def other_route(self, facts: Facts, sp_object_id: str, upn: str) -> bool:
        return full_access(facts, sp_object_id, upn) and send_as_app_consented(facts, sp_object_id)

    def present(self, facts: Facts, upn: str, value: dict[str, Any]) -> bool:
        """This mailbox's grant: the assignment of that name, through the scope of that name whose recipient filter
        is this mailbox's (a name alone may be another mailbox's: older plans cut long names short)."""
        assignment = _first(facts, "Get-ManagementRoleAssignment", value["name"])
        return (assignment is not None and str(assignment.get("CustomResourceScope") or "") == value["name"]
                and _ours(facts, value))

    def confirmed(self, m365: M365, upn: str, value: dict[str, Any]) -> bool:
        return scoped_access(fresh_facts(m365), value["object_id"], upn)

    def put(self, m365: M365, upn: str, value: dict[str, Any], on: bool) -> None:
        facts = fresh_facts(m365)
        scope = _first(facts, "Get-ManagementScope", value["name"])
        if scope is not None and not _ours(facts, value):
            raise BotError(f"A management scope named '{value['name']}' exists with another recipient filter "
                           f"({scope.get('RecipientFilter')}); the bot leaves it alone.",
                           hint="Remove or rename that scope in Exchange if it is stale, then Retry.")
        if on:
            created = scope is None
            if created:
                m365.exchange.invoke("New-ManagementScope", {
                    "Name": value["name"], "RecipientRestrictionFilter": value["filter"]})
            try:
                m365.exchange.invoke("New-ManagementRoleAssignment", {
                    "Name": value["name"], "App": value["object_id"], "Role": SCOPED_ROLE,
                    "CustomResourceScope": value["name"]})
            except Exception:
                if created and not _exists(fresh_facts(m365), "Get-ManagementRoleAssignment", value["name"]):
                    m365.exchange.invoke("Remove-ManagementScope", {"Identity": value["name"]})  # leave nothing
                raise
            return
        if self.present(facts, upn, value):
            m365.exchange.invoke("Remove-ManagementRoleAssignment", {"Identity": value["name"]})
        if scope is not None:
            m365.exchange.invoke("Remove-ManagementScope", {"Identity": value["name"]})


class OAuthFullAccess(_MailboxAccess):
    key = "oauth_full_access"
    title = "The app's access to this mailbox (FullAccess)"
    label = "grant the app FullAccess to the mailbox (Add-MailboxPermission -User <service principal>)"
    report_order = 94
    plan_priority = 15
    route = "full_access"
    docs = ("https://learn.microsoft.com/exchange/client-developer/legacy-protocols/"
            "how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth")
    on_text = "FullAccess"
    off_text = "no mailbox permission"
    impact = ("This mailbox: the app gets FullAccess, so with SMTP.SendAsApp consent it can send as the mailbox, "
              "and it could open its content through other protocols. The scoped role is the narrower grant.")

    def granted(self, facts: Facts, sp_object_id: str, upn: str) -> bool:
        return full_access(facts, sp_object_id, upn)

    def other_route(self, facts: Facts, sp_object_id: str, upn: str) -> bool:
        return scoped_access(facts, sp_object_id, upn)

    def present(self, facts: Facts, upn: str, value: dict[str, Any]) -> bool:
        return full_access(facts, value["object_id"], upn)

    def put(self, m365: M365, upn: str, value: dict[str, Any], on: bool) -> None:
        cmdlet = "Add-MailboxPermission" if on else "Remove-MailboxPermission"
        params: dict[str, Any] = {"Identity": upn, "User": value["object_id"], "AccessRights": ["FullAccess"]}
        m365.exchange.invoke(cmdlet, params, anchor=f"UPN:{upn}")


def _first(facts: Facts, cmdlet: str, name: str) -> dict[str, Any] | None:
    try:
        found = facts.m365.exchange.invoke(cmdlet, {"Identity": name}).value
    except ExchangeNotFound:
        return None
    return found[0] if found else None


def _exists(facts: Facts, cmdlet: str, name: str) -> bool:
    return _first(facts, cmdlet, name) is not None


def _filter_text(text: str) -> str:
    """A recipient filter compared loosely: Exchange may hand it back with other spacing, case or parentheses."""
    return " ".join(text.replace("(", " ").replace(")", " ").split()).lower()


def _ours(facts: Facts, value: dict[str, Any]) -> bool:
    """Whether the scope named `value["name"]` matches exactly the mailbox this step is for."""
    def read() -> bool:
        scope = _first(facts, "Get-ManagementScope", value["name"])
        return scope is not None and _filter_text(str(scope.get("RecipientFilter") or "")) == _filter_text(
            value["filter"])
    return facts.cached(("scope_ours", value["name"]), read)
