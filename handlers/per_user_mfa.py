"""Legacy per-user MFA (Graph beta strongAuthenticationRequirements): `enforced` blocks Basic SMTP AUTH."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from handlers.base import Change, Finding, Permission, Remediation, Status, fresh_facts, graph_op
from handlers.graph_paths import user_path

if TYPE_CHECKING:
    from bot.m365.tenant import M365
    from handlers.facts import Facts

WRITE_PERMISSION = "Policy.ReadWrite.AuthenticationMethod"


class PerUserMfa(Remediation):
    key = "per_user_mfa"
    title = "Legacy per-user MFA"
    label = "disable legacy per-user MFA for the user"
    report_order = 40
    plan_priority = 20
    docs = "https://learn.microsoft.com/entra/identity/authentication/howto-mfa-userstates"
    scope = "user"
    target_value = "disabled"
    impact = (
        "This user only: their interactive sign-ins no longer require MFA through the legacy per-user "
        "setting. Keep the account a dedicated service account with a long random password, exclude it "
        "narrowly from MFA Conditional Access, or better, move the device to OAuth."
    )
    permissions = (
        Permission("Policy.Read.All", "Microsoft Graph", "read per-user MFA state (beta)",
                   covered_by=(WRITE_PERMISSION,)),
        Permission(WRITE_PERMISSION, "Microsoft Graph", "change per-user MFA state (beta)"),
    )

    def read(self, facts: Facts, upn: str) -> str:
        return facts.mfa_state(upn)

    def normalise(self, value: Any) -> str:
        return str(value)

    def write(self, m365: M365, upn: str, value: str) -> None:
        m365.graph.patch(f"/users/{user_path(upn)}/authentication/requirements", {"perUserMfaState": value},
                         graph_op("change per-user MFA", WRITE_PERMISSION), version="beta")

    def verify(self, m365: M365, change: Change) -> bool:
        actual = self.read(fresh_facts(m365), change.target)
        # Graph turns "enabled" into "enforced" for a user who already registered an MFA method.
        return actual == change.after or (change.after == "enabled" and actual == "enforced")

    def assess(self, facts: Facts, upn: str, auth_mode: str) -> Finding:
        state = self.read(facts, upn)
        if state in ("disabled", "unknownFutureValue"):
            return self.finding(Status.OK, f"Per-user MFA is {state}.", current=state)
        if auth_mode == "oauth":
            return self.finding(Status.OK, f"Per-user MFA is {state}; OAuth (XOAUTH2) is not affected.", current=state)
        if state == "enabled":
            # An enabled user "can still use their password for legacy authentication" until they register a
            # method; registering turns the state into enforced (learn.microsoft.com, howto-mfa-userstates).
            return self.finding(
                Status.WARN,
                "Per-user MFA is enabled: the password still works for Basic SMTP AUTH, but the state becomes "
                "enforced when the user registers an MFA method, and then Basic SMTP AUTH fails.",
                current=state,
            )
        return self.finding(
            Status.CHANGE,
            f"Per-user MFA is {state}: a password alone cannot satisfy it, so Basic SMTP AUTH fails.",
            current=state,
            proposed=self.target_value,
        )
