"""Doctor checks for the Entra roles that Exchange's cmdlets need, one harmless read and one no-op write."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from bot.doctor.needs import ENTRA_ROLE, Use, declared
from bot.doctor.result import FAIL, OK, SKIP, WARN, Report
from bot.errors import M365Error, PermissionMissing

if TYPE_CHECKING:
    from bot.m365.tenant import M365

#: Entra built-in role template ids, as the token's `wids` claim carries them.
ROLE_IDS: Mapping[str, str] = {
    "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
    "Exchange Administrator": "29232cdf-9323-42fd-ade2-1d097af3e4de",
    "Exchange Recipient Administrator": "31392ffb-586c-42d1-9346-e59415a2cc4e",
    "Global Reader": "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
    "Security Reader": "5d6b6bb7-de71-4623-b4af-96380a352509",
    "Security Administrator": "194ae4cb-b126-40b2-bd5b-6091b380977d",
}
#: The Entra roles a handler may declare, and the held roles Microsoft documents as including each.
ROLE_INCLUDED_IN: Mapping[str, frozenset[str]] = {
    "Exchange Administrator": frozenset({"Exchange Administrator", "Global Administrator"}),
}
#: Roles that can read organisation settings (Get-OrganizationConfig, Get-TransportConfig, auth policies).
ORG_READERS = frozenset({"Global Administrator", "Exchange Administrator", "Global Reader"})
#: Roles that may read them, unconfirmed by any public source: the read check below proves it or not.
UNVERIFIED_ORG_READERS = frozenset({"Security Reader"})
WRITE_FIX = ("assign Exchange Administrator to the app's service principal, or make the service principal a member "
             "of a custom Exchange role group whose roles include Set-CASMailbox")


class RoleChecks(Report):
    """The service principal's Entra roles against the roles handlers declare."""

    def role_fix(self, role: str = "Exchange Administrator") -> str:
        return (
            f"Entra admin center > Roles & admins > Roles and administrators > {role} > Add assignments > "
            f"select the service principal of {self.app}"
        )

    def exchange_role(self, held: list[str]) -> bool:
        """Report the service principal's Entra roles; True when only recipient tasks can be covered."""
        check = "Exchange role"
        roles = " + ".join(held)
        org_reads = bool(ORG_READERS.intersection(held))
        maybe_reads = bool(UNVERIFIED_ORG_READERS.intersection(held))
        needs = declared(ENTRA_ROLE)
        uncovered = [
            (role, use)
            for role, uses in needs.items()
            if not ROLE_INCLUDED_IN.get(role, frozenset({role})).intersection(held)
            for use in uses
        ]
        maybe = any(set(use.permission.unverified).intersection(held) for _, use in uncovered)
        if not (org_reads or maybe_reads or maybe) and len(uncovered) == sum(map(len, needs.values())):
            why = f"{roles} covers none of them" if held else "it has no Entra role"
            self.add(FAIL, check, f"the app's service principal cannot run the bot's Exchange cmdlets: {why}",
                     self.role_fix())
            return False
        if org_reads and not uncovered:
            self.add(OK, check, f"{roles} on the app's service principal covers every Exchange task")
            return False
        gaps = [self._gap(role, use, held) for role, use in uncovered]
        if maybe_reads and not org_reads:
            gaps.append("Security Reader may read org-level settings, which no Microsoft source confirms "
                        "(the read check below tries)")
        elif not org_reads:
            gaps.append("org-level settings (authentication policies, the organisation's SMTP AUTH switch) "
                        "cannot be read, so diagnoses show them as unknown")
        self.add(WARN, check, f"{roles} covers only part of what the bot does: {'; '.join(gaps)}", self.role_fix())
        return not (org_reads or maybe_reads)

    @staticmethod
    def _gap(role: str, use: Use, held: list[str]) -> str:
        maybe = sorted(set(use.permission.unverified).intersection(held))
        if maybe:
            return (f"{use.kind} {use.key} needs {role}; {' + '.join(maybe)} may be enough, which no Microsoft "
                    "source confirms (the write check below tries)")
        return f"{use.kind} {use.key} won't work (it needs {role})"

    def exchange_read(self, m365: M365, recipient_only: bool) -> None:
        """A harmless read through InvokeCommand: a mailbox read when only recipient tasks are allowed."""
        cmdlet, parameters = "Get-OrganizationConfig", {}
        if recipient_only:
            cmdlet, parameters = "Get-CASMailbox", {"ResultSize": 1}
        check = f"Exchange read ({cmdlet})"
        try:
            m365.exchange.invoke(cmdlet, parameters)
        except PermissionMissing as exc:
            fix = f"{self.role_fix()}; this read needs {exc.role}" if exc.role else exc.hint
            self.add(FAIL, check, exc.message, fix)
            return
        except M365Error as exc:
            self.add(FAIL, check, exc.message, exc.hint)
            return
        self.add(OK, check, "Exchange Online answered through InvokeCommand")

    def exchange_write(self, m365: M365, mailbox: str | None) -> None:
        """Prove the mailbox switch can be changed: read `mailbox`'s value, then set it to that same value."""
        check = "Exchange write (Set-CASMailbox)"
        if not mailbox:
            self.add(SKIP, check, "no mailbox to try a no-op change on (pass --mailbox UPN, or configure a probe "
                     "target)")
            return
        try:
            rows = m365.exchange.invoke("Get-CASMailbox", {"Identity": mailbox}).value
            value = rows[0].get("SmtpClientAuthenticationDisabled") if rows else None
            m365.exchange.invoke("Set-CASMailbox", {"Identity": mailbox, "SmtpClientAuthenticationDisabled": value},
                                 anchor=f"UPN:{mailbox}")
        except PermissionMissing as exc:
            self.add(FAIL, check, f"{mailbox}: {exc.message} The app cannot change a mailbox's SMTP AUTH switch",
                     WRITE_FIX)
            return
        except M365Error as exc:
            self.add(FAIL, check, f"{mailbox}: {exc.message}", exc.hint)
            return
        shown = "empty (inherits)" if value is None else f"${str(value).lower()}"
        self.add(OK, check, f"set {mailbox}'s SmtpClientAuthenticationDisabled to its current value, {shown}: "
                 "the app can change a mailbox's SMTP AUTH switch")
