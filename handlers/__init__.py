"""Remediation steps and read-only checks, one module each; `STEPS` and `CHECKS` are the registry."""

from __future__ import annotations

from handlers.account import Account
from handlers.auth_policy import AuthPolicy
from handlers.base import Change, Check, Finding, Permission, Status, Step
from handlers.basic_auth_retirement import BasicAuthRetirement
from handlers.conditional_access import ConditionalAccess
from handlers.mailbox_smtp_auth import MailboxSmtpAuth
from handlers.org_smtp_auth import OrgSmtpAuth
from handlers.per_user_mfa import PerUserMfa
from handlers.security_defaults import SecurityDefaults

#: Steps that change a setting, in the order a plan lists them (narrowest first).
STEPS: dict[str, Step] = {s.key: s for s in (MailboxSmtpAuth(), PerUserMfa(), OrgSmtpAuth(), SecurityDefaults())}
#: Read-only checks reported as advisories.
CHECKS: dict[str, Check] = {
    c.key: c for c in (Account(), AuthPolicy(), ConditionalAccess(), BasicAuthRetirement())
}


def get_step(key: str) -> Step:
    return STEPS[key]


__all__ = ["CHECKS", "STEPS", "Change", "Check", "Finding", "Permission", "Status", "Step", "get_step"]
