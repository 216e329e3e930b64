"""`/smtp-oauth MAILBOX --app APP_ID [--full-access]`: ack, then diagnose the OAuth onboarding and post its plan."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

from slack_bolt import App

from bot.errors import InvalidInput
from bot.slack import blocks, ids
from bot.slack.listeners.common import Ack, Respond, mailbox_of, wants_help
from bot.slack.listeners.enable import take_command
from bot.slack.services import SlackServices
from handlers.app_facts import normalize_app_id
from handlers.facts import OAuthApp

log = logging.getLogger(__name__)


def parse_oauth(text: str, targets: Sequence[Any] = ()) -> tuple[str, OAuthApp]:
    """`MAILBOX --app APP_ID [--full-access]` -> (upn, app); InvalidInput says what to type."""
    words = (text or "").split()
    usage = blocks.usage_text(ids.COMMAND_OAUTH)
    names: list[str] = []
    app_id, route = None, "scoped"
    rest = iter(words)
    for word in rest:
        flag = word.lower()
        if flag == "--app" or flag.startswith("--app="):
            value = flag.partition("=")[2] or next(rest, "")
            if not value or app_id is not None:
                raise InvalidInput(f"Give --app once, with the app's client id.\n{usage}")
            app_id = value
        elif flag == "--full-access":
            route = "full_access"
        elif word.startswith("-"):
            raise InvalidInput(f"Unknown flag {blocks.esc(word[:40])}; the flags are --app and --full-access.\n{usage}")
        else:
            names.append(word)
    if len(names) != 1 or app_id is None:
        raise InvalidInput(usage)
    return mailbox_of(targets, names[0]), OAuthApp(normalize_app_id(app_id), route)


def smtp_oauth(services: SlackServices, ack: Ack, command: dict[str, Any], respond: Respond) -> None:
    """Parse the command, then store and queue it as /smtp-enable does (`take_command`)."""
    if wants_help(command.get("text")):
        ack(text=blocks.usage_text(ids.COMMAND_OAUTH))
        return
    try:
        upn, app = parse_oauth(command.get("text", ""), services.probe_targets)
    except InvalidInput as exc:
        ack(text=exc.describe())
        return
    take_command(services, ack, command, respond, upn, f"Checking OAuth (XOAUTH2) onboarding of app {app.app_id} "
                 f"for {upn}... the plan will appear in this channel.", app=app)


def register(app: App, services: SlackServices) -> None:
    app.command(ids.COMMAND_OAUTH)(partial(smtp_oauth, services))
