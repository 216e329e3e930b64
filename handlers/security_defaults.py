"""Entra security defaults (Graph v1.0): on, they block every Basic-auth sign-in, SMTP AUTH included."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from handlers.base import Finding, Permission, Remediation, Status, graph_op
from handlers.graph_paths import SECURITY_DEFAULTS_PATH

if TYPE_CHECKING:
    from bot.m365.tenant import M365
    from handlers.facts import Facts

WRITE_PERMISSION = "Policy.ReadWrite.SecurityDefaults"


class SecurityDefaults(Remediation):
    key = "security_defaults"
    title = "Entra security defaults"
    label = "turn off Entra security defaults (tenant-wide, risky)"
    report_order = 50
    plan_priority = 40
    docs = "https://learn.microsoft.com/entra/fundamentals/security-defaults"
    scope = "tenant"
    target_value = False
    impact = (
        "Tenant-wide: turns off the baseline that requires MFA registration for every user, MFA for "
        "admins and blocks legacy authentication for everyone. Replace it with Conditional Access "
        "policies (which need Entra ID P1) before or right after, or move the device to OAuth instead."
    )
    permissions = (
        Permission("Policy.Read.All", "Microsoft Graph", "read security defaults", covered_by=(WRITE_PERMISSION,)),
        Permission(WRITE_PERMISSION, "Microsoft Graph", "turn security defaults off or on",
                   covered_by=("Policy.ReadWrite.ConditionalAccess",)),
    )

    def display(self, value: object) -> str:
        return "on" if value else "off"

    def read(self, facts: Facts, upn: str) -> bool:
        return facts.security_defaults()

    def normalise(self, value: Any) -> bool:
        return bool(value)

    def write(self, m365: M365, upn: str, value: bool) -> None:
        m365.graph.patch(SECURITY_DEFAULTS_PATH, {"isEnabled": value}, graph_op("change security defaults",
                                                                                 WRITE_PERMISSION))

    def assess(self, facts: Facts, upn: str, auth_mode: str) -> Finding:
        enabled = self.read(facts, upn)
        if not enabled:
            return self.finding(Status.OK, "Security defaults are off.", current=False)
        if auth_mode == "oauth":
            return self.finding(
                Status.OK, "Security defaults are on; they do not block OAuth (XOAUTH2) SMTP AUTH.", current=True
            )
        return self.finding(
            Status.CHANGE,
            "Security defaults are on: they block Basic authentication, so SMTP AUTH with a password fails "
            "(535 5.7.139 ... security defaults policy).",
            current=True,
            proposed=False,
            advice="Prefer moving the device to OAuth (XOAUTH2); turn security defaults off only with "
            "Conditional Access policies ready to replace them.",
        )
