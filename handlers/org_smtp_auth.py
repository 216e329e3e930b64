"""The organisation-wide SMTP AUTH switch (Set-TransportConfig); proposed only when asked for by name."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from handlers.base import Finding, Permission, Remediation, Status, tri_state
from handlers.mailbox_smtp_auth import MailboxSmtpAuth

if TYPE_CHECKING:
    from bot.m365.tenant import M365
    from handlers.facts import Facts


class OrgSmtpAuth(Remediation):
    key = "org_smtp_auth"
    title = "SMTP AUTH for the whole organisation"
    label = "enable SMTP AUTH for the organisation (Set-TransportConfig -SmtpClientAuthenticationDisabled $false)"
    report_order = 30
    plan_priority = 30
    docs = ("https://learn.microsoft.com/exchange/clients-and-mobile-in-exchange-online/"
            "authenticated-client-smtp-submission#disable-smtp-auth-in-your-organization")
    scope = "tenant"
    target_value = False
    # An explicit mailbox value wins over the org value, so the org switch helps only a mailbox that inherits:
    # the planner proposes it only in place of the mailbox switch, for such a mailbox (`can_replace`).
    opt_in = True
    alternative_to = MailboxSmtpAuth.key
    impact = (
        "Tenant-wide: every mailbox that does not set its own value starts accepting SMTP AUTH, so any "
        "account whose password leaks can send mail by SMTP. Prefer enabling it per mailbox."
    )
    permissions = (
        Permission("Exchange.ManageAsApp", "Office 365 Exchange Online", "run Get-/Set-TransportConfig"),
        Permission("Exchange Administrator", "Entra role", "change organisation transport settings"),
    )

    def display(self, value: Any) -> str:
        return "disabled" if value or value is None else "enabled"

    def read(self, facts: Facts, upn: str) -> bool | None:
        return tri_state(facts.transport_config().get("SmtpClientAuthenticationDisabled"))

    def normalise(self, value: Any) -> bool:
        return bool(value)

    def write(self, m365: M365, upn: str, value: bool) -> None:
        m365.exchange.invoke("Set-TransportConfig", {"SmtpClientAuthenticationDisabled": value})

    def can_replace(self, finding: Finding) -> bool:
        return bool(finding.evidence.get("inherited"))

    def why_not(self, chosen: Collection[str], findings: Mapping[str, Finding]) -> str:
        mailbox = findings.get(str(self.alternative_to))
        if mailbox is None or mailbox.status is Status.NOT_APPLICABLE:
            return "Not applicable: the user has no Exchange Online mailbox, so no SMTP AUTH switch can help."
        if mailbox.evidence.get("inherited") is False:
            if mailbox.current:
                return ("Would not help: this mailbox's own setting (off) wins over the organisation's; turning "
                        "it on for the mailbox is what fixes it.")
            return "Not needed: this mailbox turns SMTP AUTH on itself, which wins over the organisation's setting."
        if self.alternative_to in chosen:
            return ("Enabling SMTP AUTH for this mailbox is the smaller change; `--org` asks for the organisation "
                    "switch instead.")
        return "Not needed for this mailbox."

    def assess(self, facts: Facts, upn: str, auth_mode: str) -> Finding:
        disabled = self.read(facts, upn)
        if not disabled:
            return self.finding(Status.OK, "SMTP AUTH is on for the organisation.", current=disabled)
        return self.finding(
            Status.CHANGE,
            "SMTP AUTH is off for the organisation; mailboxes that inherit it cannot use SMTP AUTH.",
            current=True,
            proposed=False,
            advice="Enabling it for the one mailbox that needs it is the smaller change.",
        )
