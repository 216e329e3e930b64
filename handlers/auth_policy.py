"""Advisory: an Exchange authentication policy with AllowBasicAuthSmtp off blocks Basic SMTP AUTH."""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers.base import Check, Finding, Permission, Status

if TYPE_CHECKING:
    from handlers.facts import Facts


class AuthPolicy(Check):
    key = "auth_policy"
    title = "Exchange authentication policy"
    label = "Exchange authentication policy for the user (AllowBasicAuthSmtp)"
    report_order = 60
    docs = "https://learn.microsoft.com/exchange/clients-and-mobile-in-exchange-online/disable-basic-authentication-in-exchange-online"
    permissions = (
        Permission("Exchange.ManageAsApp", "Office 365 Exchange Online",
                   "read authentication policies (Get-AuthenticationPolicy, Get-User, Get-OrganizationConfig)"),
    )

    def assess(self, facts: Facts, upn: str, auth_mode: str) -> Finding:
        assigned = facts.user_auth_policy(upn)
        name = assigned or facts.default_auth_policy()
        if not name:
            return self.finding(Status.OK, "No authentication policy applies; it does not restrict Basic SMTP.")
        source = "assigned to the user" if assigned else "the organisation's default"
        policy = facts.auth_policies().get(name.lower())
        evidence = {"policy": name, "source": source}
        if policy is None:
            return self.finding(Status.UNKNOWN, f"Authentication policy '{name}' ({source}) was not found.",
                                evidence=evidence)
        evidence["AllowBasicAuthSmtp"] = policy.get("AllowBasicAuthSmtp")
        if policy.get("AllowBasicAuthSmtp", True):
            return self.finding(Status.OK, f"Policy '{name}' ({source}) allows Basic SMTP.", evidence=evidence)
        if auth_mode == "oauth":
            return self.finding(Status.OK, f"Policy '{name}' blocks Basic SMTP only; OAuth is not affected.",
                                evidence=evidence)
        return self.finding(
            Status.BLOCKED,
            f"Policy '{name}' ({source}) has AllowBasicAuthSmtp off, so Basic SMTP AUTH fails "
            "(535 5.7.139 ... basic authentication is disabled).",
            evidence=evidence,
            advice=f"Assign a policy that allows Basic SMTP to this user only (Set-User -Identity {upn} "
            "-AuthenticationPolicy <policy>), or move the device to OAuth. Policy changes can take up to 24 h.",
        )
