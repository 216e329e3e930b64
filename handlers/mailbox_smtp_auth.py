"""The mailbox's SMTP AUTH switch (Set-CASMailbox -SmtpClientAuthenticationDisabled): false, true or null."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from handlers.base import Finding, Permission, Remediation, Status, tri_state

if TYPE_CHECKING:
    from bot.m365.tenant import M365
    from handlers.facts import Facts


def describe(value: bool | None, org: bool | None) -> str:
    """Plain words for the tri-state: null inherits the organisation's value."""
    if value is None:
        inherited = "unknown" if org is None else ("off" if org else "on")
        return f"not set (inherits the organisation's setting: {inherited})"
    return "off (disabled for this mailbox)" if value else "on (enabled for this mailbox)"


class MailboxSmtpAuth(Remediation):
    key = "mailbox_smtp_auth"
    title = "SMTP AUTH for this mailbox"
    label = "enable SMTP AUTH on the mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $false)"
    report_order = 20
    plan_priority = 10
    docs = ("https://learn.microsoft.com/exchange/clients-and-mobile-in-exchange-online/"
            "authenticated-client-smtp-submission#enable-smtp-auth-for-specific-mailboxes")
    scope = "mailbox"
    target_value = False
    impact = (
        "This mailbox only: allows authenticated SMTP submission (port 587) for it, so anyone with its "
        "password can send mail as it from anywhere. Use a strong, unique password or OAuth, and watch "
        "the SMTP AUTH clients report."
    )
    permissions = (
        Permission("Exchange.ManageAsApp", "Office 365 Exchange Online", "run Get-/Set-CASMailbox"),
        Permission("Exchange Administrator", "Entra role", "change a mailbox's protocol settings (Set-CASMailbox)",
                   unverified=("Exchange Recipient Administrator",)),
    )

    def display(self, value: Any) -> str:
        if value is None:
            return "not set (inherits the organisation)"
        return "disabled" if value else "enabled"

    def read(self, facts: Facts, upn: str) -> bool | None:
        return tri_state(facts.require_mailbox(upn).get("SmtpClientAuthenticationDisabled"))

    def normalise(self, value: Any) -> bool | None:
        return tri_state(value)  # None puts "inherit" back, as it was

    def write(self, m365: M365, upn: str, value: bool | None) -> None:
        m365.exchange.invoke(
            "Set-CASMailbox", {"Identity": upn, "SmtpClientAuthenticationDisabled": value}, anchor=f"UPN:{upn}"
        )

    def why_not(self, chosen: Collection[str], findings: Mapping[str, Finding]) -> str:
        return "The organisation switch was asked for instead."

    def assess(self, facts: Facts, upn: str, auth_mode: str) -> Finding:
        if facts.mailbox(upn) is None:
            return self.finding(Status.NOT_APPLICABLE, "The user has no Exchange Online mailbox.")
        value = self.read(facts, upn)
        org = _org_value(facts)
        effective = value if value is not None else org
        evidence: dict[str, Any] = {"mailbox": value, "organization": org, "inherited": value is None}
        if effective is False:
            return self.finding(Status.OK, f"SMTP AUTH is {describe(value, org)}.", current=value, evidence=evidence)
        if effective is None:
            return self.finding(
                Status.UNKNOWN,
                "The mailbox inherits the organisation's SMTP AUTH setting, which could not be read.",
                current=value, evidence=evidence,
            )
        reply = "Tenant" if value is None else "Mailbox"
        return self.finding(
            Status.CHANGE,
            f"SMTP AUTH is {describe(value, org)} (535 5.7.139 ... SmtpClientAuthentication is disabled for the "
            f"{reply}).",
            current=value,
            proposed=False,
            evidence=evidence,
        )


def _org_value(facts: Facts) -> bool | None:
    try:
        return tri_state(facts.transport_config().get("SmtpClientAuthenticationDisabled"))
    except Exception:  # noqa: BLE001 - an unreadable org value leaves the inherited state unknown
        return None
