"""One cause behind an Exchange Online SMTP AUTH reply, and the texts several causes share."""

from __future__ import annotations

from dataclasses import dataclass

SMTP_AUTH_DISABLED_DOCS = "https://aka.ms/smtp_auth_disabled"
SMTP_AUTH_TLS_DOCS = "https://aka.ms/smtp_auth_tls"

RETIREMENT = (
    "Microsoft is retiring Basic auth (username and password) for SMTP AUTH: under its January 2026 plan it is "
    "switched off by default for existing tenants at the end of December 2026 (admins can turn it back on, by a "
    "mechanism not yet documented), and the final removal date is due in the second half of 2027."
)
OAUTH_END_STATE = (
    "Better end state: OAuth 2.0 (XOAUTH2) with SMTP AUTH, which security defaults, authentication policies and "
    "legacy-auth Conditional Access rules do not block."
)


@dataclass(frozen=True, kw_only=True)
class Cause:
    """One reason an SMTP submission to Microsoft 365 fails, and how to get past it."""

    key: str
    title: str
    explanation: str
    steps: tuple[str, ...] = ()
    """Remediation keys (see STEP_LABELS), in the order to try them."""
    checks: tuple[str, ...] = ()
    """Read-only diagnosis checks (see CHECK_LABELS) to look at."""
    advice: str
    transient: bool = False
    """True when the same attempt may succeed later without any change."""
    docs: str | None = None

