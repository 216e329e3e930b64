"""Entra security defaults (Graph v1.0): on, they block every Basic-auth sign-in, SMTP AUTH included."""

from __future__ import annotations

from bot.m365.graph import Op
from bot.m365.tenant import M365
from handlers.base import Change, Finding, Permission, Status, Step
from handlers.facts import SECURITY_DEFAULTS_PATH, Facts

WRITE = Op("change security defaults", "Policy.ReadWrite.SecurityDefaults")


class SecurityDefaults(Step):
    key = "security_defaults"
    title = "Entra security defaults"
    scope = "tenant"
    impact = (
        "Tenant-wide: turns off the baseline that requires MFA registration for every user, MFA for "
        "admins and blocks legacy authentication for everyone. Replace it with Conditional Access "
        "policies (which need Entra ID P1) before or right after, or move the device to OAuth instead."
    )
    permissions = (
        Permission("Policy.Read.All", "Microsoft Graph", "read security defaults"),
        Permission("Policy.ReadWrite.SecurityDefaults", "Microsoft Graph", "turn security defaults off or on"),
    )

    def display(self, value: object) -> str:
        return "on" if value else "off"

    def read(self, facts: Facts, upn: str) -> bool:
        return facts.security_defaults()

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

    def _set(self, m365: M365, value: bool) -> None:
        m365.graph.patch(SECURITY_DEFAULTS_PATH, {"isEnabled": value}, WRITE)

    def apply(self, m365: M365, upn: str) -> Change:
        before = self.read(Facts(m365), upn)
        self._set(m365, False)
        return Change(self.key, upn, before, False)

    def revert(self, m365: M365, change: Change) -> Change:
        current = self.read(Facts(m365), change.target)
        self._set(m365, bool(change.before))
        return Change(self.key, change.target, current, bool(change.before))
