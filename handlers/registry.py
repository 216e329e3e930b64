"""The registry: every remediation and read-only check; reports, plans, labels and doctor derive from it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from handlers.account import Account
from handlers.auth_policy import AuthPolicy
from handlers.base import Check, Remediation
from handlers.basic_auth_retirement import BasicAuthRetirement
from handlers.bulk_smtp_auth_off import BulkSmtpAuthOff, OrgSmtpAuthOff
from handlers.conditional_access import ConditionalAccess
from handlers.exchange_service_principal import ExchangeServicePrincipal
from handlers.mailbox_smtp_auth import MailboxSmtpAuth
from handlers.oauth_app import OAuthApp, OAuthConsent
from handlers.oauth_mailbox_access import OAuthFullAccess, OAuthScopedAccess
from handlers.org_smtp_auth import OrgSmtpAuth
from handlers.per_user_mfa import PerUserMfa
from handlers.security_defaults import SecurityDefaults

#: The kinds of change the bot can make, in plan order (narrowest first).
REMEDIATIONS: dict[str, Remediation] = {
    r.key: r for r in sorted((MailboxSmtpAuth(), OrgSmtpAuth(), PerUserMfa(), SecurityDefaults(),
                              ExchangeServicePrincipal(), OAuthScopedAccess(), OAuthFullAccess()),
                             key=lambda r: r.plan_priority)
}
#: Read-only checks, reported as advisories.
CHECKS: dict[str, Check] = {
    c.key: c for c in sorted((Account(), AuthPolicy(), ConditionalAccess(), BasicAuthRetirement(), OAuthApp(),
                              OAuthConsent()),
                             key=lambda c: c.report_order)
}

#: Clean-up steps the readiness report proposes (never a diagnosis): the bulk mailbox step and the org switch off.
BULK: dict[str, BulkSmtpAuthOff] = {b.key: b for b in (BulkSmtpAuthOff(),)}
CLEANUP: dict[str, Remediation] = {r.key: r for r in (OrgSmtpAuthOff(),)}


def remediation(key: str) -> Remediation:
    """The single-target remediation a stored step runs: a diagnosis' or a clean-up's (KeyError if neither)."""
    return REMEDIATIONS[key] if key in REMEDIATIONS else CLEANUP[key]


def display(key: str, value: object) -> str:
    """Plain words for a value of the setting a step changes (str(value) for an unknown key)."""
    handler = REMEDIATIONS.get(key) or CLEANUP.get(key) or BULK.get(key)
    return handler.display(value) if handler else str(value)


def in_report_order(*, app: bool = False) -> list[Check]:
    """The handlers a diagnosis runs, in report order: the OAuth onboarding ones (`needs_app`) only with `app`."""
    return sorted((h for h in (*REMEDIATIONS.values(), *CHECKS.values()) if app or not h.needs_app),
                  key=lambda h: h.report_order)


def in_plan_order(keys: Iterable[str]) -> list[Remediation]:
    """The remediations named by `keys`, narrowest change first."""
    return sorted((REMEDIATIONS[key] for key in keys), key=lambda r: r.plan_priority)


class Labels(Mapping[str, str]):
    """Key -> one-line label of the handlers in `registry`, read live (so a handler added later shows up)."""

    def __init__(self, registry: Mapping[str, Check]) -> None:
        self._registry = registry

    def __getitem__(self, key: str) -> str:
        return self._registry[key].label

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry)

    def __len__(self) -> int:
        return len(self._registry)
