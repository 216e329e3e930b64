"""Diagnose why SMTP AUTH fails for one or many users, reading everything in bulk first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.clock import SYSTEM_CLOCK, Clock
from bot.errors import BotError, InvalidInput
from bot.m365.tenant import M365
from bot.workflow import AUTH_MODES
from handlers import Finding, in_report_order
from handlers.app_facts import ROUTES, normalize_app_id
from handlers.facts import Facts, OAuthApp, UserInfo, normalize_upn
from handlers.oauth_app import device_settings


@dataclass
class Diagnosis:
    """Every check's finding for one user, or the error that stopped the diagnosis (e.g. UserNotFound)."""

    upn: str
    auth_mode: str
    user: UserInfo | None = None
    findings: dict[str, Finding] = field(default_factory=dict)
    error: BotError | None = None
    app: OAuthApp | None = None
    device: dict[str, Any] | None = None  # an OAuth onboarding: what the device is configured with

    def to_dict(self) -> dict[str, Any]:
        return {
            "upn": self.upn,
            "auth_mode": self.auth_mode,
            "user": None if self.user is None else {"id": self.user.id, "displayName": self.user.display_name},
            "findings": {k: f.to_dict() for k, f in self.findings.items()},
            "error": None if self.error is None else {"type": type(self.error).__name__, "message": self.error.message,
                                                       "hint": self.error.hint},
            "app": None if self.app is None else {"app_id": self.app.app_id, "route": self.app.route},
            "device": self.device,
        }


def diagnose(
    m365: M365, upns: list[str], *, auth_mode: str = "basic", clock: Clock = SYSTEM_CLOCK, app: OAuthApp | None = None
) -> list[Diagnosis]:
    """Diagnose each UPN. Malformed UPNs are rejected before any request is sent.

    With `app` (an OAuth onboarding: the device's app and the route) the auth mode is OAuth and the onboarding
    checks run too; each diagnosis then ends with the device's settings.
    """
    if app is not None:
        app = OAuthApp(normalize_app_id(app.app_id), app.route)
        if app.route not in ROUTES:
            raise InvalidInput(f"Unknown route '{app.route}'.", hint="Use scoped (the default) or full_access.")
        auth_mode = "oauth"
    normalized = list(dict.fromkeys(normalize_upn(u) for u in upns))
    return diagnose_each(m365, [(upn, auth_mode) for upn in normalized], clock=clock, app=app)


def diagnose_each(m365: M365, wanted: list[tuple[str, str]], *, clock: Clock = SYSTEM_CLOCK,
                  app: OAuthApp | None = None) -> list[Diagnosis]:
    """One diagnosis per `(upn, auth_mode)` (commands that arrived together), reading everything once, in bulk.

    Malformed UPNs and unknown auth modes are rejected before any request is sent. `app`: an onboarding's
    app (`diagnose`), for every UPN.
    """
    for _, auth_mode in wanted:
        if auth_mode not in AUTH_MODES:
            raise InvalidInput(f"Unknown auth mode '{auth_mode}'.", hint="Use basic or oauth.")
    normalized = [(normalize_upn(upn), auth_mode) for upn, auth_mode in wanted]
    if not normalized:
        raise InvalidInput("No user given.", hint="Give at least one UPN, for example scanner@contoso.com.")
    facts = Facts(m365, clock, app=app)
    facts.prefetch(list(dict.fromkeys(upn for upn, _ in normalized)))
    return [_diagnose_one(facts, upn, auth_mode) for upn, auth_mode in normalized]


def _diagnose_one(facts: Facts, upn: str, auth_mode: str) -> Diagnosis:
    result = Diagnosis(upn=upn, auth_mode=auth_mode, app=facts.app)
    try:
        result.user = facts.user(upn)
        for check in in_report_order(app=facts.app is not None):
            result.findings[check.key] = check.inspect(facts, upn, auth_mode=auth_mode)
        if facts.app is not None:
            result.device = device_settings(facts.m365, upn, facts.app.app_id)
    except BotError as exc:
        result.error = exc
    return result
