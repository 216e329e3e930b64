"""The readiness report's vocabulary, pure: account classes, per-account usage, the report and its verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

#: "End of December 2026: SMTP AUTH Basic Authentication will be disabled by default for existing tenants"
#: (Exchange Team blog, "Updated Exchange Online SMTP AUTH Basic Authentication Deprecation Timeline", 27 Jan 2026,
#: techcommunity.microsoft.com/blog/exchange/updated-exchange-online-smtp-auth-basic-authentication-deprecation-
#: timeline/4489835). Admins can turn it back on for now; the final removal date comes in the second half of 2027.
BASIC_OFF_BY_DEFAULT = date(2026, 12, 31)
DEFAULT_DAYS = 30
#: Entra ID keeps sign-in logs for 30 days with P1/P2 (learn.microsoft.com/entra/identity/monitoring-health/
#: reference-reports-data-retention), so a longer window would silently read less than it says.
MAX_DAYS = 30


class AccountClass(StrEnum):
    """What an account means for the Basic-auth change, in report order."""

    BASIC_IN_USE = "basic_in_use"
    ENABLED_USAGE_UNKNOWN = "enabled_usage_unknown"
    ENABLED_UNUSED = "enabled_unused"
    OAUTH = "oauth"
    OFF = "off"

    @property
    def label(self) -> str:
        return LABELS[self]


LABELS = {
    AccountClass.BASIC_IN_USE: "Basic in use",
    AccountClass.ENABLED_USAGE_UNKNOWN: "Enabled, usage unknown",
    AccountClass.ENABLED_UNUSED: "Enabled but unused",
    AccountClass.OAUTH: "OAuth",
    AccountClass.OFF: "Off",
}


@dataclass
class Usage:
    """Password ("Authenticated SMTP") sign-ins of one account in the window."""

    count: int = 0
    successes: int = 0
    failures: int = 0
    last_use: datetime | None = None
    ips: set[str] = field(default_factory=set)
    error_codes: set[int] = field(default_factory=set)

    def add(self, when: datetime, ip: str, error_code: int) -> None:
        self.count += 1
        if error_code == 0:
            self.successes += 1
        else:
            self.failures += 1
            self.error_codes.add(error_code)
        if ip:
            self.ips.add(ip)
        if self.last_use is None or when > self.last_use:
            self.last_use = when


@dataclass
class Account:
    """One mailbox or signing-in account. `switch` is the mailbox's SmtpClientAuthenticationDisabled (True off,
    False on, None inherits the organisation); `has_mailbox` False for accounts seen only in sign-ins."""

    upn: str
    user_id: str = ""
    display_name: str = ""
    has_mailbox: bool = False
    switch: bool | None = None
    usage: Usage | None = None  # None: the sign-in logs could not be read
    oauth: bool = False
    oauth_apps: list[str] = field(default_factory=list)  # apps with a role to send as it (RBAC for Applications)
    oauth_onboarded: list[str] = field(default_factory=list)  # app ids the bot's own OAuth onboarding let send as it
    klass: AccountClass = AccountClass.OFF
    path: str = ""
    why: str = ""

    def effective_on(self, org_disabled: bool) -> bool:
        """Whether SMTP AUTH is on for the mailbox: its own switch, else the organisation's."""
        if not self.has_mailbox:
            return False
        return not (self.switch if self.switch is not None else org_disabled)


def switch_text(switch: bool | None, org_disabled: bool | None = None) -> str:
    """A mailbox switch in words: on, off, or inherits (with the organisation's value when known)."""
    if switch is None:
        org = "" if org_disabled is None else f" ({'off' if org_disabled else 'on'})"
        return f"inherits{org}"
    return "off" if switch else "on"


@dataclass
class Source:
    """Whether one source was read; `problem` says plainly why not."""

    read: bool
    problem: str = ""


@dataclass
class Report:
    generated_at: datetime
    days: int
    org_disabled: bool
    accounts: list[Account]
    sign_ins: Source
    service_principals: Source
    service_principal_names: list[str] = field(default_factory=list)
    mailboxes_read: int = 0
    oauth_notes: list[str] = field(default_factory=list)  # what could not be told about apps' mailbox access

    def counts(self) -> dict[AccountClass, int]:
        found = dict.fromkeys(AccountClass, 0)
        for account in self.accounts:
            found[account.klass] += 1
        return found

    def days_until_change(self) -> int:
        """Whole days from the report's time to the end of December 2026 (0 once reached)."""
        return max(0, (BASIC_OFF_BY_DEFAULT - self.generated_at.astimezone(UTC).date()).days)

    def of(self, klass: AccountClass) -> list[Account]:
        return [a for a in self.accounts if a.klass is klass]

    def to_dict(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at.isoformat(),
            "days": self.days,
            "days_until_basic_off_by_default": self.days_until_change(),
            "organisation_smtp_auth": "off" if self.org_disabled else "on",
            "sign_in_logs": {"read": self.sign_ins.read, "problem": self.sign_ins.problem or None},
            "exchange_service_principals": {"read": self.service_principals.read,
                                            "problem": self.service_principals.problem or None,
                                            "names": self.service_principal_names,
                                            "notes": self.oauth_notes},
            "mailboxes_read": self.mailboxes_read,
            "counts": {k.value: v for k, v in self.counts().items()},
            "accounts": [account_dict(a, self.org_disabled) for a in self.accounts],
        }


def account_dict(account: Account, org_disabled: bool) -> dict[str, Any]:
    usage = account.usage
    return {
        "upn": account.upn,
        "class": account.klass.value,
        "class_label": account.klass.label,
        "mailbox": account.has_mailbox,
        "smtp_auth_switch": switch_text(account.switch, org_disabled) if account.has_mailbox else "no mailbox",
        "smtp_auth_effective": "on" if account.effective_on(org_disabled) else "off",
        "sign_ins_read": usage is not None,
        "sign_ins": usage.count if usage else None,
        "successes": usage.successes if usage else None,
        "failures": usage.failures if usage else None,
        "last_use": usage.last_use.isoformat() if usage and usage.last_use else None,
        "client_ips": sorted(usage.ips) if usage else None,
        "oauth": account.oauth,
        "oauth_apps": account.oauth_apps,
        "oauth_onboarded_apps": account.oauth_onboarded,
        "recommended_path": account.path,
        "why": account.why,
    }


def unused_mailboxes(report: Report) -> list[tuple[str, bool | None]]:
    """(upn, prior SmtpClientAuthenticationDisabled) of each mailbox with SMTP AUTH effectively on and no password
    sign-in in the report's window: what the clean-up step may turn off. `prior` is False (explicitly on) or None
    (inherits an enabled organisation): put it back exactly on undo. Empty when the sign-in logs were not read:
    usage that could not be seen is never taken for "unused"."""
    if not report.sign_ins.read:
        return []
    return [(a.upn, a.switch) for a in report.of(AccountClass.ENABLED_UNUSED)]


def org_unused(report: Report) -> bool:
    """Whether the organisation's SMTP AUTH switch may be proposed off: the sign-in logs were read, and no mailbox
    that inherits it used SMTP AUTH in the window (a password sign-in, failed ones included) or sends with OAuth
    (the switch applies to OAuth too). Unknown usage never counts as unused."""
    if not report.sign_ins.read:
        return False
    return not any(a.has_mailbox and a.switch is None and ((a.usage is None or a.usage.count) or a.oauth)
                   for a in report.accounts)
