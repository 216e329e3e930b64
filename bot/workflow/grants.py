"""Undoing an app's Exchange registration only when nothing the bot granted with that app still depends on it.

Removing an Exchange service principal orphans every grant it holds, the ones of other onboardings with the same
app (either route) included. Role assignments are found tenant-wide in Exchange; FullAccess only per mailbox, so
the mailboxes come from the bot's own record of onboarding grants with the same app, and Exchange confirms each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from bot.errors import BotError
from bot.m365.tenant import M365
from bot.store import Store
from bot.workflow.model import ChangeRequest, RequestStep, StepState
from handlers import REMEDIATIONS
from handlers.exchange_service_principal import ExchangeServicePrincipal
from handlers.oauth_mailbox_access import OAuthFullAccess, OAuthScopedAccess

REGISTRATION = ExchangeServicePrincipal.key
GRANTS = frozenset({OAuthFullAccess.key, OAuthScopedAccess.key})
#: States in which a grant step may have left its grant in Exchange (Exchange then says whether it is there).
MAY_HOLD = (StepState.APPLYING, StepState.APPLIED, StepState.VERIFIED, StepState.REVERT_PENDING,
            StepState.REVERTING)


def granted_mailboxes(store: Store, app_id: str) -> list[str]:
    """Every mailbox an onboarding grant step with `app_id` may still hold, oldest first."""
    mailboxes: list[str] = []
    for state in MAY_HOLD:
        for step in store.requests.steps_in_state(state):
            if step.handler_key in GRANTS and _app_id(step) == app_id:
                request = store.requests.get(step.request_id)
                if request is not None:
                    mailboxes.append(request.upn)
    return list(dict.fromkeys(mailboxes))

#: A grant step verified and not undone (an undo asked for or running still counts): the app sends as the mailbox.
STANDING = (StepState.VERIFIED, StepState.REVERT_PENDING, StepState.REVERTING)


def onboarded_mailboxes(store: Store) -> dict[str, list[str]]:
    """Mailbox (lower case) -> the app ids the bot's own OAuth onboardings gave access to it (either route), from
    grant steps verified and not undone. The readiness report counts these mailboxes as OAuth: FullAccess is not
    listed tenant-wide by Exchange, and SMTP AUTH off would stop the app (the switch applies to XOAUTH2 too)."""
    found: dict[str, set[str]] = {}
    for state in STANDING:
        for step in store.requests.steps_in_state(state):
            app_id = _app_id(step) if step.handler_key in GRANTS else None
            request = store.requests.get(step.request_id) if app_id else None
            if request is not None:
                found.setdefault(request.upn.lower(), set()).add(str(app_id))
    return {upn: sorted(apps) for upn, apps in found.items()}


def undo_refusal(store: Store, m365: Callable[[], M365], step: RequestStep,
                 request: ChangeRequest) -> str | None:
    """Why the undo of `step` must not run now, or None. Only an Exchange registration is ever refused: while
    Exchange still grants the app something (this mailbox, another onboarding's, or a role assignment)."""
    if step.handler_key != REGISTRATION:
        return None
    value = step.after if isinstance(step.after, dict) else step.before
    if not isinstance(value, dict) or not value.get("app_id") or not value.get("object_id"):
        return None  # the handler refuses a value that names no app
    handler = cast(ExchangeServicePrincipal, REMEDIATIONS[REGISTRATION])
    mailboxes = [request.upn, *granted_mailboxes(store, str(value["app_id"]))]
    try:
        found = handler.remaining_grants(m365(), value, mailboxes)
    except BotError as exc:
        return f"Undo not started: the bot could not check what Exchange still grants the app ({exc.describe()})."
    if not found:
        return None
    return (f"Undo refused: Exchange still grants this app {'; '.join(found)}. Removing its registration would "
            "orphan those grants (the devices using them would stop sending); undo each of them first (on their "
            "own cards), then this one.")


def _app_id(step: RequestStep) -> Any:
    for value in (step.after, step.before):
        if isinstance(value, dict) and value.get("app_id"):
            return value["app_id"]
    return None
