"""Legacy per-user MFA (Graph beta strongAuthenticationRequirements): enabled or enforced blocks Basic SMTP AUTH."""

from __future__ import annotations

from bot.m365.graph import Op
from bot.m365.tenant import M365
from handlers.base import Change, Finding, Permission, Status, Step
from handlers.facts import Facts, _path

WRITE = Op("change per-user MFA", "Policy.ReadWrite.AuthenticationMethod")


class PerUserMfa(Step):
    key = "per_user_mfa"
    title = "Legacy per-user MFA"
    scope = "user"
    impact = (
        "This user only: their interactive sign-ins no longer require MFA through the legacy per-user "
        "setting. Keep the account a dedicated service account with a long random password, exclude it "
        "narrowly from MFA Conditional Access, or better, move the device to OAuth."
    )
    permissions = (
        Permission("Policy.Read.All", "Microsoft Graph", "read per-user MFA state (beta)"),
        Permission("Policy.ReadWrite.AuthenticationMethod", "Microsoft Graph", "change per-user MFA state (beta)"),
    )

    def read(self, facts: Facts, upn: str) -> str:
        return facts.mfa_state(upn)

    def assess(self, facts: Facts, upn: str, auth_mode: str) -> Finding:
        state = self.read(facts, upn)
        if state in ("disabled", "unknownFutureValue"):
            return self.finding(Status.OK, f"Per-user MFA is {state}.", current=state)
        if auth_mode == "oauth":
            return self.finding(Status.OK, f"Per-user MFA is {state}; OAuth (XOAUTH2) is not affected.", current=state)
        return self.finding(
            Status.CHANGE,
            f"Per-user MFA is {state}: a password alone cannot satisfy it, so Basic SMTP AUTH fails.",
            current=state,
            proposed="disabled",
        )

    def _set(self, m365: M365, upn: str, state: str) -> None:
        m365.graph.patch(f"/users/{_path(upn)}/authentication/requirements", {"perUserMfaState": state}, WRITE,
                         version="beta")

    def apply(self, m365: M365, upn: str) -> Change:
        before = self.read(Facts(m365), upn)
        self._set(m365, upn, "disabled")
        return Change(self.key, upn, before, "disabled")

    def revert(self, m365: M365, change: Change) -> Change:
        current = self.read(Facts(m365), change.target)
        self._set(m365, change.target, str(change.before))
        return Change(self.key, change.target, current, str(change.before))

    def verify(self, m365: M365, change: Change) -> bool:
        actual = self.read(Facts(m365), change.target)
        # Graph turns "enabled" into "enforced" for a user who already registered an MFA method.
        return actual == change.after or (change.after == "enabled" and actual == "enforced")
