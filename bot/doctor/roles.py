"""Doctor checks for the Entra roles that Exchange's cmdlets need, and one harmless Exchange read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from bot.doctor.needs import ENTRA_ROLE, declared
from bot.doctor.result import FAIL, OK, WARN, Report
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
#: The Entra roles a handler may declare, and the held roles that include each (reference §3.2).
ROLE_INCLUDED_IN: Mapping[str, frozenset[str]] = {
    "Exchange Administrator": frozenset({"Exchange Administrator", "Global Administrator"}),
    "Exchange Recipient Administrator": frozenset(
        {"Exchange Recipient Administrator", "Exchange Administrator", "Global Administrator"}
    ),
}
#: Roles that can read organisation settings (Get-OrganizationConfig, Get-TransportConfig, auth policies).
ORG_READERS = frozenset(
    {"Global Administrator", "Exchange Administrator", "Global Reader", "Security Reader"}
)


class RoleChecks(Report):
    """The service principal's Entra roles against the roles handlers declare."""

    def role_fix(self, role: str = "Exchange Administrator") -> str:
        return (
            f"Entra admin center > Roles & admins > Roles and administrators > {role} > Add assignments > "
            f"select the service principal of {self.app}"
        )

    def exchange_role(self, held: list[str]) -> bool:
        """Report the service principal's Entra roles; True when only recipient tasks are covered."""
        check = "Exchange role"
        roles = " + ".join(held)
        org_reads = bool(ORG_READERS.intersection(held))
        needs = declared(ENTRA_ROLE)
        uncovered = [
            (role, use)
            for role, uses in needs.items()
            if not ROLE_INCLUDED_IN.get(role, frozenset({role})).intersection(held)
            for use in uses
        ]
        if not org_reads and len(uncovered) == sum(map(len, needs.values())):
            why = f"{roles} covers none of them" if held else "it has no Entra role"
            self.add(FAIL, check, f"the app's service principal cannot run the bot's Exchange cmdlets: {why}",
                     self.role_fix())
            return False
        if org_reads and not uncovered:
            self.add(OK, check, f"{roles} on the app's service principal covers every Exchange task")
            return False
        gaps = [f"{use.kind} {use.key} won't work (it needs {role})" for role, use in uncovered]
        if not org_reads:
            gaps.append("org-level settings (authentication policies, the organisation's SMTP AUTH switch) "
                        "cannot be read, so diagnoses show them as unknown")
        message = f"{roles} covers only part of what the bot does: {'; '.join(gaps)}"
        self.add(WARN, check, message, self.role_fix())
        return not org_reads

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
