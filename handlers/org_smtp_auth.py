"""The organisation-wide SMTP AUTH switch (Set-TransportConfig); proposed only when asked for by name."""

from __future__ import annotations

from typing import Any

from bot.m365.tenant import M365
from handlers.base import Change, Finding, Permission, Status, Step
from handlers.facts import Facts


class OrgSmtpAuth(Step):
    key = "org_smtp_auth"
    title = "SMTP AUTH for the whole organisation"
    scope = "tenant"
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
        value = facts.transport_config().get("SmtpClientAuthenticationDisabled")
        return None if value is None else bool(value)

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

    def _set(self, m365: M365, value: bool) -> None:
        m365.exchange.invoke("Set-TransportConfig", {"SmtpClientAuthenticationDisabled": value})

    def apply(self, m365: M365, upn: str) -> Change:
        before = self.read(Facts(m365), upn)
        self._set(m365, False)
        return Change(self.key, upn, before, False)

    def revert(self, m365: M365, change: Change) -> Change:
        current = self.read(Facts(m365), change.target)
        self._set(m365, bool(change.before))
        return Change(self.key, change.target, current, bool(change.before))
