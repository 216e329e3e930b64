"""Advisory: Microsoft is retiring Basic authentication for SMTP AUTH; OAuth (XOAUTH2) is the end state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from handlers.base import Check, Finding, Status

if TYPE_CHECKING:
    from handlers.facts import Facts

#: Exchange Team blog 2026-01-27 (`BasicAuthRetirement.docs`): unchanged through December 2026, then off by
#: default for existing tenants (admins can turn it back on); the final removal date comes in H2 2027.
DEFAULT_OFF_FROM = datetime(2026, 12, 31, tzinfo=UTC)
OAUTH_DOCS = ("https://learn.microsoft.com/exchange/client-developer/legacy-protocols/"
              "how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth")
HVE_DOCS = "https://learn.microsoft.com/exchange/mail-flow-best-practices/high-volume-mails-m365"
RELAY_DOCS = ("https://learn.microsoft.com/exchange/mail-flow-best-practices/"
              "how-to-set-up-a-multifunction-device-or-application-to-send-email-using-microsoft-365-or-office-365")
OAUTH_ADVICE = (
    "Move the device or app to OAuth (XOAUTH2, app permission SMTP.SendAsApp) if it supports it; otherwise "
    "plan for High Volume Email (internal recipients), Azure Communication Services Email or an SMTP relay "
    f"connector. OAuth for SMTP: {OAUTH_DOCS} · High Volume Email: {HVE_DOCS} · relay connector: {RELAY_DOCS}"
)


class BasicAuthRetirement(Check):
    key = "basic_auth_retirement"
    title = "Basic authentication retirement"
    label = "Microsoft's retirement of Basic auth for SMTP AUTH (default-off from end of 2026)"
    report_order = 80
    docs = ("https://techcommunity.microsoft.com/blog/exchange/"
            "updated-exchange-online-smtp-auth-basic-authentication-deprecation-timeline/4489835")

    def assess(self, facts: Facts, upn: str, auth_mode: str) -> Finding:
        if auth_mode == "oauth":
            return self.finding(Status.NOT_APPLICABLE, "OAuth (XOAUTH2) is not affected by the Basic auth retirement.")
        if facts.clock.now() < DEFAULT_OFF_FROM:
            summary = (
                "Basic auth for SMTP AUTH keeps working through December 2026; at the end of December 2026 "
                "Microsoft turns it off by default for existing tenants (admins can turn it back on), and "
                "announces the final removal date in the second half of 2027."
            )
        else:
            summary = (
                "Since the end of December 2026 Basic auth for SMTP AUTH is off by default for existing "
                "tenants; a 550 5.7.30 reply means it is off for this tenant. It can still be turned back "
                "on until Microsoft's final removal date (announced in the second half of 2027)."
            )
        return self.finding(Status.WARN, summary, advice=OAUTH_ADVICE)
