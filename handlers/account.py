"""Advisory: the account exists, can sign in, is licensed and has an Exchange Online mailbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers.base import Check, Finding, Permission, Status

if TYPE_CHECKING:
    from handlers.facts import Facts


class Account(Check):
    key = "account"
    title = "Account and mailbox"
    label = "the user account: enabled, licensed, not locked, how it signs in"
    report_order = 10
    docs = "https://learn.microsoft.com/microsoft-365/admin/manage/assign-licenses-to-users"
    permissions = (
        Permission("User.Read.All", "Microsoft Graph", "resolve the user",
                   covered_by=("Directory.Read.All", "Directory.ReadWrite.All")),
        Permission("Exchange.ManageAsApp", "Office 365 Exchange Online", "read the mailbox (Get-CASMailbox)"),
    )

    def assess(self, facts: Facts, upn: str, auth_mode: str) -> Finding:
        user = facts.user(upn)
        evidence = {"id": user.id, "accountEnabled": user.account_enabled, "licensed": user.licensed,
                    "userType": user.user_type}
        problems, advice = [], []
        if not user.account_enabled:
            problems.append("sign-in is blocked (the account is disabled)")
            advice.append("Unblock sign-in for the account in the Microsoft 365 admin center.")
        if not user.licensed:
            problems.append("it has no licence")
            advice.append("Assign a licence that includes Exchange Online.")
        mailbox = facts.mailbox(upn)
        evidence["mailbox"] = mailbox is not None
        if mailbox is None:
            problems.append("it has no Exchange Online mailbox")
            if user.licensed:
                advice.append("Check that the licence includes Exchange Online; mailbox provisioning can take minutes.")
        if problems:
            return self.finding(Status.BLOCKED, f"{user.display_name or upn}: " + "; ".join(problems) + ".",
                                evidence=evidence, advice=" ".join(advice))
        if user.user_type.lower() == "guest":
            return self.finding(Status.WARN, "This is a guest account; SMTP AUTH needs a member mailbox.",
                                evidence=evidence)
        return self.finding(Status.OK, f"{user.display_name or upn}: enabled, licensed, has a mailbox.",
                            evidence=evidence)
