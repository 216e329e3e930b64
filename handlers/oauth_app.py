"""Advisories for OAuth onboarding: the app exists in Entra ID, and how admin consent fits the chosen route.

What only an admin can do in Entra ID (create the app registration and its secret or certificate, grant
admin consent) is said as an instruction with the portal path; the bot never does it nor claims it done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from handlers.app_facts import consent_url, entra_application, entra_service_principal, send_as_app_consented
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
            if consented:
                return self.finding(
                    Status.WARN, "Admin consent for SMTP.SendAsApp lets the app send as every mailbox: Entra "
                    "consent and Exchange roles add up, so the scoped role limits nothing while it stays.",
                    evidence=evidence, advice="Remove the consent: " + REMOVE_CONSENT.format(name=name))
            return self.finding(Status.OK, "No tenant-wide consent: the scoped role will be the app's only grant "
                                "(least privilege).", evidence=evidence)
        if consented:
            return self.finding(Status.OK, "Admin consent for SMTP.SendAsApp is granted.", evidence=evidence)
        url = consent_url(login_url(facts.m365), facts.m365.tenant_id, app.app_id)
        return self.finding(Status.BLOCKED, "The FullAccess route needs admin consent for SMTP.SendAsApp, which "
                            "is not granted.", evidence=evidence, advice=GRANT_CONSENT.format(name=name, url=url))


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
