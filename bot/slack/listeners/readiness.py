"""`/smtp-readiness [--days N]`: ack, then a card that shows progress and the summary, and the full list as a CSV;
its Close unused button opens the clean-up's plan card in the card's thread."""

from __future__ import annotations

import logging
import re
from functools import partial
from typing import Any

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot.errors import BotError
from bot.readiness.model import DEFAULT_DAYS, MAX_DAYS
from bot.slack import blocks, ids
from bot.slack.blocks.readiness import readiness_card, readiness_progress
from bot.slack.listeners.common import Ack, Respond, clicked, ephemeral, wants_help
from bot.slack.services import SlackServices

log = logging.getLogger(__name__)
#: The Close unused button's value (`ids.readiness_value`): days, then the report's id.
CLOSE_VALUE = re.compile(r"(\d{1,2}):(\d{8}T\d{6}Z)")

#: Seconds between progress updates of the card (chat.update is Tier 3: about 50 a minute).
UPDATE_EVERY = 2.0


def parse_days(text: str) -> int | None:
    """N from `--days N` (or nothing: the default); None when the text is anything else."""
    words = text.split()
    if not words:
        return DEFAULT_DAYS
    if len(words) == 2 and words[0] == "--days" and words[1].isdigit() and 1 <= int(words[1]) <= MAX_DAYS:
        return int(words[1])
    return None


def smtp_readiness(services: SlackServices, ack: Ack, command: dict[str, Any], respond: Respond) -> None:
    text = command.get("text") or ""
    days = None if wants_help(text) else parse_days(text)
    if days is None:
        ack(text=blocks.usage_text(ids.COMMAND_READINESS))
        return
    ack(text=f"Reading the tenant's SMTP AUTH readiness (last {days} days); the card follows here.")
    services.submit(send_readiness, services, str(command.get("channel_id", "")), str(command.get("user_id", "")),
                    days, respond)


def send_readiness(services: SlackServices, channel: str, user: str, days: int, respond: Respond) -> None:
    """Post the progress card, update it while the report runs, then the summary and the CSV in its thread."""
    first = readiness_progress("the organisation settings", 0, days)
    ts = services.slack.chat_postMessage(channel=channel, **first)["ts"]
    last = [services.clock.monotonic()]

    def progress(phase: str, count: int) -> None:
        now = services.clock.monotonic()
        if now - last[0] >= UPDATE_EVERY:
            last[0] = now
            services.slack.chat_update(channel=channel, ts=ts, **readiness_progress(phase, count, days))

    try:
        report, csv_text = services.readiness_report(days, progress)
    except BotError as exc:
        services.slack.chat_update(channel=channel, ts=ts, **blocks.error_blocks(exc.message, exc.hint))
        return
    services.slack.chat_update(channel=channel, ts=ts, **readiness_card(report, user))
    stamp = report.generated_at.strftime("%Y%m%d-%H%M")
    try:
        services.slack.files_upload_v2(channel=channel, thread_ts=ts, content=csv_text.encode(),
                                       filename=f"smtp-auth-readiness-{stamp}.csv",
                                       title=f"SMTP AUTH readiness, last {days} days ({len(report.accounts)} accounts)")
    except SlackApiError as exc:  # the card stands; say the list did not arrive rather than fail silently
        ephemeral(respond, f"The summary is posted, but Slack refused the CSV upload: {exc.response.get('error')}")


def close_unused(services: SlackServices, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
    """Close unused: ack, then (on the pool) run the report again and open the clean-up in the card's thread.

    Only the period and the report's id come from the button (a value anyone can forge); the mailboxes, their
    values and the organisation's verdict are read again from the tenant at the click.
    """
    ack()
    parsed = clicked(body)
    match = CLOSE_VALUE.fullmatch(parsed[1]) if parsed else None
    days = int(match.group(1)) if match else 0
    where, message = _part(body, "container"), _part(body, "message")
    channel = _part(body, "channel").get("id") or where.get("channel_id")
    thread = message.get("thread_ts") or message.get("ts") or where.get("message_ts")
    if parsed is None or match is None or not 1 <= days <= MAX_DAYS or not isinstance(channel, str) or not channel \
            or not isinstance(thread, str) or not thread:
        log.warning("ignoring a malformed Close unused click")
        return
    services.submit(open_close_unused, services, parsed[0], days, channel, thread, match.group(2), respond)


def _part(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    return value if isinstance(value, dict) else {}


def open_close_unused(services: SlackServices, user: str, days: int, channel: str, thread: str, report: str,
                      respond: Respond) -> None:
    ephemeral(respond, f"Reading the tenant again (last {days} days) to propose closing SMTP AUTH where it is "
              "unused; the plan follows in this thread.")
    try:
        view = services.close_unused(days, user, channel, thread)
    except BotError as exc:
        ephemeral(respond, exc.describe())
        return
    log.info("clean-up %s opened from readiness report %s", view.request.id, report)


def register(app: App, services: SlackServices) -> None:
    app.command(ids.COMMAND_READINESS)(partial(smtp_readiness, services))
    app.action(ids.ACTION_CLOSE_UNUSED)(partial(close_unused, services))
