"""Advisories for OAuth onboarding: the app exists in Entra ID, and how admin consent fits the chosen route.

What only an admin can do in Entra ID (create the app registration and its secret or certificate, grant
admin consent) is said as an instruction with the portal path; the bot never does it nor claims it done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from bot.errors import M365Error
from handlers.app_facts import (
    consent_url,
    entra_application,
    entra_service_principal,
    exchange_service_principal,
    full_access,
    send_as_app_consented,
)
from handlers.base import Check, Finding, Status
from handlers.oauth_mailbox_access import READ_APPS

if TYPE_CHECKING:
    from bot.m365.clouds import Cloud
    from bot.m365.tenant import M365
    from handlers.facts import Facts

REGISTER = ("Register the app: Microsoft Entra admin center › Identity › Applications › App registrations › "
            "New registration (single tenant). Then, in the new app, Certificates & secrets › New client secret "
            "(or upload a certificate) and give the device the secret with the tenant id and client id. The bot "
            "cannot create an app or its secret.")
REMOVE_CONSENT = ("Microsoft Entra admin center › Identity › Applications › App registrations › {name} › API "
                  "permissions › Office 365 Exchange Online › SMTP.SendAsApp › Remove permission (or Revoke admin "
                  "consent).")
GRANT_CONSENT = ("Microsoft Entra admin center › Identity › Applications › App registrations › {name} › API "
                 "permissions › Add a permission › APIs my organization uses › Office 365 Exchange Online › "
                 "Application permissions › SMTP.SendAsApp, then Grant admin consent; or a Global or Privileged "
                 "Role Administrator opens {url}. The bot cannot grant consent.")


def cloud_of(m365: M365) -> Cloud:
    """The tenant's cloud, known by its Exchange token scope (endpoint overrides, e.g. the sandbox, never change it)."""
    from bot.m365.clouds import (
        CLOUDS,  # here, not at the top: `python -m bot explain` loads the registry, not M365
    )

    return next((c for c in CLOUDS.values() if c.exchange_scope == m365.exchange.scope), CLOUDS["global"])


def login_url(m365: M365) -> str:
    """The real sign-in host of the tenant's cloud."""
    return cloud_of(m365).login_url


class OAuthApp(Check):
    key = "oauth_app"
    title = "The app in Entra ID"
    label = "the app registration and its service principal (enterprise application) in Entra ID"
    report_order = 90
    needs_app: ClassVar[bool] = True
    docs = "https://learn.microsoft.com/entra/identity-platform/quickstart-register-app"
    permissions = (READ_APPS,)

    def assess(self, facts: Facts, upn: str, auth_mode: str) -> Finding:
        app = facts.app
        if app is None:
            return self.finding(Status.NOT_APPLICABLE, "No app was given.")
        sp = entra_service_principal(facts, app.app_id)
        if sp is None:
            return self.finding(Status.BLOCKED, f"No app with client id {app.app_id} has a service principal in "
                                "this tenant.", advice=REGISTER + " For an app registered in another tenant, an "
                                "admin of this one consents to it first: " + consent_url(
                                    login_url(facts.m365), facts.m365.tenant_id, app.app_id) + ".")
        name = str(sp.get("displayName") or app.app_id)
        evidence: dict[str, Any] = {"appId": app.app_id, "servicePrincipalId": sp.get("id"), "displayName": name}
        if entra_application(facts, app.app_id) is None:
            return self.finding(Status.WARN, f"{name}: its service principal is here but the app registration "
                                "lives in another tenant, whose admins hold its secrets.", evidence=evidence)
        return self.finding(Status.OK, f"{name}: registered, with a service principal (object id {sp.get('id')}).",
                            evidence=evidence)


class OAuthConsent(Check):
    key = "oauth_consent"
    title = "Admin consent for SMTP.SendAsApp"
    label = "Entra admin consent for Office 365 Exchange Online SMTP.SendAsApp (FullAccess route only)"
    report_order = 91
    needs_app: ClassVar[bool] = True
    docs = "https://learn.microsoft.com/exchange/permissions-exo/application-rbac"
    permissions = (READ_APPS,)

    def assess(self, facts: Facts, upn: str, auth_mode: str) -> Finding:
        app = facts.app
        sp = entra_service_principal(facts, app.app_id) if app else None
        if app is None or sp is None:
            return self.finding(Status.NOT_APPLICABLE, "Needs the app's service principal first.")
        name = str(sp.get("displayName") or app.app_id)
        consented = send_as_app_consented(facts, str(sp["id"]))
        evidence = {"consented": consented, "route": app.route}
        if app.route == "scoped":
            # Microsoft's SMTP RBAC onboarding (learn.microsoft.com/exchange/client-developer/legacy-protocols/
            # smtp-app-rbac-onboarding, 10/2025): "Including the SMTP.SendAsApp claim would trigger an unnecessary
            # check for mailbox permissions." The consent puts the claim in every token of the app, and Exchange
            # then wants a mailbox permission (FullAccess): the scoped role alone is refused.
            if consented and _full_access_here(facts, app.app_id, str(sp["id"]), upn):
                return self.finding(
                    Status.WARN, f"Admin consent for SMTP.SendAsApp is granted and the app holds FullAccess on "
                    f"{upn}: it sends by the FullAccess route. While the consent stays, Exchange checks that "
                    "mailbox permission, so a scoped role would not be what lets it send.", evidence=evidence,
                    advice="To move to the scoped role: grant it, remove the consent (" + REMOVE_CONSENT.format(
                        name=name) + "), then remove the FullAccess.")
            if consented:
                return self.finding(
                    Status.BLOCKED, "Admin consent for SMTP.SendAsApp is granted: the app's tokens carry that claim, "
                    "and with it Exchange checks for a mailbox permission (FullAccess), so the scoped role alone is "
                    "refused. The scoped route needs no consent.", evidence=evidence,
                    advice="Remove the consent: " + REMOVE_CONSENT.format(name=name))
            return self.finding(Status.OK, "No SMTP.SendAsApp consent: the token carries no claim, and the scoped "
                                "role will be the app's only grant (least privilege).", evidence=evidence)
        if consented:
            return self.finding(Status.OK, "Admin consent for SMTP.SendAsApp is granted.", evidence=evidence)
        url = consent_url(login_url(facts.m365), facts.m365.tenant_id, app.app_id)
        return self.finding(Status.BLOCKED, "The FullAccess route needs admin consent for SMTP.SendAsApp, which "
                            "is not granted.", evidence=evidence, advice=GRANT_CONSENT.format(name=name, url=url))


def _full_access_here(facts: Facts, app_id: str, sp_id: str, upn: str) -> bool:
    """Whether the app, registered in Exchange, holds FullAccess on `upn` (False when that cannot be read)."""
    try:
        return exchange_service_principal(facts, app_id) is not None and full_access(facts, sp_id, upn)
    except M365Error:
        return False


def device_settings(m365: M365, upn: str, app_id: str) -> dict[str, Any]:
    """What the device (or app) is configured with for app-only SMTP with OAuth, for the tenant's cloud.

    Host and port: learn.microsoft.com/exchange/mail-flow-best-practices/how-to-set-up-a-multifunction-device-or-
    application-to-send-email-using-microsoft-365-or-office-365 (SMTP AUTH client submission, 587 STARTTLS); the
    token scope is the Exchange Online resource's `/.default` (client credentials), per cloud.
    """
    cloud = cloud_of(m365)
    return {
        "host": cloud.smtp_host,
        "port": 587,
        "security": "STARTTLS",
        "username": upn,
        "auth": "XOAUTH2 (OAuth 2.0 client credentials)",
        "tenant_id": m365.tenant_id,
        "client_id": app_id,
        "token_endpoint": f"{cloud.login_url}/{m365.tenant_id}/oauth2/v2.0/token",
        "scope": cloud.exchange_scope,
    }
