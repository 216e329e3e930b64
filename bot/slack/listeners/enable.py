"""`/smtp-enable UPN [--org] [--oauth]` and a card's Diagnose again: ack, then diagnose and post the plan card."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from slack_bolt import App

from bot.errors import BotError, InvalidInput
from bot.slack import blocks, ids
from bot.slack.listeners.common import Ack, Respond, cannot_post, clicked, ephemeral, mailbox_of, wants_help
from bot.slack.services import SlackServices
from bot.workflow.service import oauth_app_of
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
UNEXPECTED = "Sorry, the diagnosis failed unexpectedly; the details are in the bot's log."


@dataclass(frozen=True)
class Waiting:
    """A stored request queued for a batched diagnosis, and how to answer its requester."""

    request_id: str
    channel: str
    respond: Respond


def smtp_enable(services: SlackServices, ack: Ack, command: dict[str, Any], respond: Respond) -> None:
    """Store the command (a request in `diagnosing`, one write) before acking it, then queue its diagnosis."""
    if wants_help(command.get("text")):
        ack(text=blocks.usage_text(ids.COMMAND_ENABLE))
        return
    try:
        upn, include_org, auth_mode = parse_enable(command.get("text", ""), services.probe_targets)
    except InvalidInput as exc:
        ack(text=exc.describe())
        return
    take_command(services, ack, command, respond, upn, diagnosing(upn), auth_mode=auth_mode,
                 include_org=include_org)


def take_command(services: SlackServices, ack: Ack, command: dict[str, Any], respond: Respond, upn: str,
                 started: str, **options: Any) -> None:
    """Store a parsed command (a request in `diagnosing`, one write) before acking it, then queue its diagnosis.

    The ack says `started`, or that the bot is busy (`queue`), or why nothing was stored. A redelivered command
    (same trigger) is acked again but stored and diagnosed once.
    """
    user, channel = str(command.get("user_id", "")), str(command.get("channel_id", ""))
    try:
        request_id = services.workflow.receive(upn, user, channel,
                                               trigger_id=str(command.get("trigger_id") or "") or None, **options)
    except BotError as exc:
        ack(text=exc.describe())
        return
    except Exception:
        log.exception("could not store %s %s", command.get("command") or "a command", upn)
        ack(text=NOT_STORED)
        return
    busy = queue(services, upn, request_id, channel, respond) if request_id is not None else None
    ack(text=busy or started)


def diagnosing(upn: str) -> str:
    return f"Diagnosing SMTP AUTH for {upn}... the plan will appear in this channel."


def queue(services: SlackServices, upn: str, request_id: str, channel: str, respond: Respond) -> str | None:
    """Queue a stored request's diagnosis; what to tell the requester when the bot is busy (where it waits), else
    None."""
    position = services.queue_diagnosis(diagnose_batch, request_id, Waiting(request_id, channel, respond))
    if position is None:
        return (f"The bot is very busy: its queue is full. Your request for {upn} ({request_id}) is recorded and "
                "will be diagnosed as soon as there is room; the plan will appear in this channel. "
                "No need to run the command again.")
    if position > services.busy_after:
        return (f"The bot is busy: your request for {upn} is queued (position {position}). "
                "The plan will appear in this channel once it has been diagnosed.")
    return None


def open_request(services: SlackServices, upn: str, user: str, channel: str, include_org: bool, auth_mode: str,
                 respond: Respond, thread_ts: str | None = None, app: OAuthApp | None = None) -> None:
    """Store a request and queue its diagnosis (a button's work, on the pool); say so if the bot is busy.
    In `thread_ts` when given (an alert's Fix)."""
    try:
        request_id = services.workflow.receive(upn, user, channel, auth_mode=auth_mode, include_org=include_org,
                                               thread_ts=thread_ts, app=app)
    except BotError as exc:
        ephemeral(respond, exc.describe())
        return
    except Exception:
        log.exception("could not store a request for %s", upn)
        ephemeral(respond, NOT_STORED)
        return
    if request_id is None:
        return
    busy = queue(services, upn, request_id, channel, respond)
    if busy:
        ephemeral(respond, busy)


def diagnose_batch(services: SlackServices, waiting: list[Waiting]) -> None:
    """Diagnose requests queued together (one bulk read of Microsoft), then queue each card; a failure is told
    to its requester (and stored on the request).

    A channel the bot cannot post in (asked once per channel) closes its requests at once and tells each
    requester to invite the bot.
    """
    refusals = {channel: cannot_post(services.slack, channel) for channel in dict.fromkeys(w.channel for w in waiting)}
    going: list[Waiting] = []
    for entry in waiting:
        refusal = refusals[entry.channel]
        if not refusal:
            going.append(entry)
            continue
        try:
            services.workflow.withdraw(entry.request_id, refusal)
        except Exception:
            log.exception("could not close request %s", entry.request_id)
        _tell(entry, refusal)
    if not going:
        return
    results = services.workflow.diagnose_requests([entry.request_id for entry in going])
    for entry in going:
        result = results.get(entry.request_id)
        if isinstance(result, BotError):
            _tell(entry, result.describe())
        elif isinstance(result, Exception) or result is None:
            log.error("could not diagnose request %s: %r", entry.request_id, result)
            _tell(entry, UNEXPECTED)
        else:
            try:
                services.cards.refresh(result.request.id)
            except Exception:  # logged; the other requests of the batch go on
                log.exception("could not queue the card of request %s", entry.request_id)


def _tell(entry: Waiting, text: str) -> None:
    """An ephemeral answer that cannot stop the rest of a batch (a response URL that expired or failed)."""
    try:
        ephemeral(entry.respond, text)
    except Exception:
        log.exception("could not answer the requester of %s", entry.request_id)


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
    services.submit(open_request, services, request.upn, parsed[0], request.channel,
                    bool(request.options.get("include_org")), str(request.options.get("auth_mode") or "basic"),
                    respond, request.thread_ts, oauth_app_of(request))  # an /smtp-oauth request: its app and route


def register(app: App, services: SlackServices) -> None:
    app.command(ids.COMMAND_ENABLE)(partial(smtp_enable, services))
    app.action(ids.ACTION_DIAGNOSE_AGAIN)(partial(diagnose_again, services))
