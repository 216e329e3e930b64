"""`/smtp-enable UPN [--org] [--oauth]`: ack at once, then diagnose and post the plan card from the pool."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

from slack_bolt import App

from bot.errors import BotError, InvalidInput
from bot.slack import blocks, ids
from bot.slack.listeners.common import Ack, Respond, cannot_post, ephemeral, mailbox_of, wants_help
from bot.slack.services import SlackServices

log = logging.getLogger(__name__)
ENABLE_FLAGS = {"--org": "include_org", "--oauth": "oauth"}


def parse_enable(text: str, targets: Sequence[Any] = ()) -> tuple[str, bool, str]:
    """`UPN|TARGET [--org] [--oauth]` -> (upn, include_org, auth_mode); InvalidInput says what to type."""
    words = (text or "").split()
    flags = [w.lower() for w in words if w.startswith("-")]
    names = [w for w in words if not w.startswith("-")]
    unknown = [f for f in flags if f not in ENABLE_FLAGS]
    if unknown:
        raise InvalidInput(f"Unknown flag {blocks.esc(unknown[0][:40])}; "
                           f"the flags are {', '.join(ENABLE_FLAGS)}.\n{blocks.usage_text(ids.COMMAND_ENABLE)}")
    if len(names) != 1:
        raise InvalidInput(blocks.usage_text(ids.COMMAND_ENABLE))
    return mailbox_of(targets, names[0]), "--org" in flags, "oauth" if "--oauth" in flags else "basic"


def smtp_enable(services: SlackServices, ack: Ack, command: dict[str, Any], respond: Respond) -> None:
    if wants_help(command.get("text")):
        ack(text=blocks.usage_text(ids.COMMAND_ENABLE))
        return
    try:
        upn, include_org, auth_mode = parse_enable(command.get("text", ""), services.probe_targets)
    except InvalidInput as exc:
        ack(text=exc.describe())
        return
    ack(text=f"Diagnosing SMTP AUTH for {upn}... the plan will appear in this channel.")
    services.submit(open_request, services, upn, str(command.get("user_id", "")), str(command.get("channel_id", "")),
                    include_org, auth_mode, respond, command.get("trigger_id"))


def open_request(services: SlackServices, upn: str, user: str, channel: str, include_org: bool, auth_mode: str,
                 respond: Respond, trigger_id: str | None = None) -> None:
    """Diagnose, plan and store the request, then queue its card; a redelivered command (same trigger) does nothing."""
    if not services.once(trigger_id):
        log.info("command %s was delivered again; the first delivery is handled", trigger_id)
        return
    refusal = cannot_post(services.slack, channel)
    if refusal:
        ephemeral(respond, refusal)
        return
    try:
        view = services.workflow.open_request(upn, user, channel, auth_mode=auth_mode, include_org=include_org)
    except BotError as exc:
        ephemeral(respond, exc.describe())
        return
    except Exception:
        log.exception("could not open a request for %s", upn)
        ephemeral(respond, "Sorry, the diagnosis failed unexpectedly; the details are in the bot's log.")
        return
    services.cards.refresh(view.request.id)


def register(app: App, services: SlackServices) -> None:
    app.command(ids.COMMAND_ENABLE)(partial(smtp_enable, services))
