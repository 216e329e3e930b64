"""`/smtp-status [UPN|TARGET|chart]`: open change requests and probe results, or the 7-day chart uploaded as a PNG."""

from __future__ import annotations

from functools import partial
from typing import Any

from slack_bolt import App

from bot.errors import InvalidInput
from bot.slack import blocks, ids
from bot.slack.listeners.common import Ack, Respond, ephemeral, mailbox_of, wants_help
from bot.slack.services import SlackServices


def smtp_status(services: SlackServices, ack: Ack, command: dict[str, Any], respond: Respond) -> None:
    words = (command.get("text") or "").split()
    if len(words) > 1 or wants_help(command.get("text")):
        ack(text=blocks.usage_text(ids.COMMAND_STATUS))
        return
    if words and words[0].lower() == "chart":
        ack(text="Drawing the probe history chart...")
        services.submit(send_chart, services, str(command.get("channel_id", "")), str(command.get("user_id", "")),
                        respond)
        return
    try:
        upn = mailbox_of(services.probe_targets, words[0]) if words else None
    except InvalidInput as exc:
        ack(text=exc.describe())
        return
    ack()
    services.submit(send_status, services, upn, respond)


def send_status(services: SlackServices, upn: str | None, respond: Respond) -> None:
    now = services.clock.now()
    card = blocks.status_blocks(services.workflow.requests_for(upn), services.probe_statuses(upn), now=now, upn=upn,
                                basic_auth=services.basic_auth_summary())
    ephemeral(respond, card["text"], {"blocks": card["blocks"]})


def send_chart(services: SlackServices, channel: str, user: str, respond: Respond) -> None:
    """`/smtp-status chart`: a PNG of the last 7 days per target, uploaded to the channel."""
    if not services.probe_targets:
        ephemeral(respond, "No probe targets are configured (probes.targets in app.yaml), so there is no chart.")
        return
    services.slack.files_upload_v2(channel=channel, content=services.chart_png(),
                                   filename="smtp-auth-availability.png",
                                   title="SMTP AUTH probes: availability and latency, last 7 days",
                                   initial_comment=f"SMTP AUTH probe history, asked for by <@{user}>.")


def register(app: App, services: SlackServices) -> None:
    app.command(ids.COMMAND_STATUS)(partial(smtp_status, services))
