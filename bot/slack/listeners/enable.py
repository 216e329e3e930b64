"""`/smtp-enable UPN [--org] [--oauth]` and a card's Diagnose again: ack, then diagnose and post the plan card."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

from slack_bolt import App

from bot.errors import BotError, InvalidInput
from bot.slack import blocks, ids
from bot.slack.listeners.common import Ack, Respond, cannot_post, clicked, ephemeral, mailbox_of, wants_help
from bot.slack.services import SlackServices
from handlers.facts import OAuthApp

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


#: What the requester is told when the command could not be stored (the database is unreachable).
NOT_STORED = ("Sorry, the bot could not record this request: its database is not answering, so nothing was "
              "started. Please try again in a minute.")


def smtp_enable(services: SlackServices, ack: Ack, command: dict[str, Any], respond: Respond) -> None:
    """Store the command (a request in `diagnosing`) before acking it, then diagnose it on the pool."""
    if wants_help(command.get("text")):
        ack(text=blocks.usage_text(ids.COMMAND_ENABLE))
        return
    try:
        upn, include_org, auth_mode = parse_enable(command.get("text", ""), services.probe_targets)
    except InvalidInput as exc:
        ack(text=exc.describe())
        return
    user, channel = str(command.get("user_id", "")), str(command.get("channel_id", ""))
    try:  # a redelivered command (same trigger) is acked again but stored and diagnosed once
        first = services.once(command.get("trigger_id"))
        request_id = services.workflow.receive(upn, user, channel, auth_mode=auth_mode,
                                               include_org=include_org) if first else None
    except BotError as exc:
        ack(text=exc.describe())
        return
    except Exception:
        log.exception("could not store /smtp-enable %s", upn)
        ack(text=NOT_STORED)
        return
    ack(text=f"Diagnosing SMTP AUTH for {upn}... the plan will appear in this channel.")
    if request_id is not None:
        services.submit(diagnose_request, services, request_id, channel, respond)


def open_request(services: SlackServices, upn: str, user: str, channel: str, include_org: bool, auth_mode: str,
                 respond: Respond, thread_ts: str | None = None, app: OAuthApp | None = None) -> None:
    """Store, diagnose and plan a request, then queue its card (a button's work, on the pool); in `thread_ts`
    when given (an alert's Fix)."""
    try:
        extra = {"app": app} if app is not None else {}
        request_id = services.workflow.receive(upn, user, channel, auth_mode=auth_mode, include_org=include_org,
                                               thread_ts=thread_ts, **extra)
    except BotError as exc:
        ephemeral(respond, exc.describe())
        return
    except Exception:
        log.exception("could not store a request for %s", upn)
        ephemeral(respond, NOT_STORED)
        return
    diagnose_request(services, request_id, channel, respond)


def diagnose_request(services: SlackServices, request_id: str, channel: str, respond: Respond) -> None:
    """Diagnose a stored request and queue its card; a failure is told to the requester (and stored on it).

    A channel the bot cannot post in closes the request at once and tells the requester to invite the bot.
    """
    refusal = cannot_post(services.slack, channel)
    if refusal:
        services.workflow.withdraw(request_id, refusal)
        ephemeral(respond, refusal)
        return
    try:
        view = services.workflow.diagnose_request(request_id)
    except BotError as exc:
        ephemeral(respond, exc.describe())
        return
    except Exception:
        log.exception("could not diagnose request %s", request_id)
        ephemeral(respond, "Sorry, the diagnosis failed unexpectedly; the details are in the bot's log.")
        return
    services.cards.refresh(view.request.id)


def diagnose_again(services: SlackServices, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
    """A card's Diagnose again: the same diagnosis for the same mailbox and options, in the card's channel (and
    thread)."""
    ack()
    parsed = clicked(body)
    view = services.workflow.find(parsed[1][:64]) if parsed else None
    if parsed is None or view is None:
        log.warning("ignoring a Diagnose again click without a known request")
        return
    request = view.request
    app_id = request.options.get("app_id")  # an /smtp-oauth request: the same app and route
    app = OAuthApp(str(app_id), str(request.options.get("route") or "scoped")) if app_id else None
    services.submit(open_request, services, request.upn, parsed[0], request.channel,
                    bool(request.options.get("include_org")), str(request.options.get("auth_mode") or "basic"),
                    respond, request.thread_ts, app)


def register(app: App, services: SlackServices) -> None:
    app.command(ids.COMMAND_ENABLE)(partial(smtp_enable, services))
    app.action(ids.ACTION_DIAGNOSE_AGAIN)(partial(diagnose_again, services))
