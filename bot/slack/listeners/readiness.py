"""`/smtp-readiness [--days N]`: ack, then a card that shows progress and the summary, and the full list as a CSV."""

from __future__ import annotations

from functools import partial
from typing import Any

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot.errors import BotError
from bot.readiness.model import DEFAULT_DAYS, MAX_DAYS
from bot.slack import blocks, ids
from bot.slack.blocks.readiness import readiness_card, readiness_progress
from bot.slack.listeners.common import Ack, Respond, ephemeral, wants_help
from bot.slack.services import SlackServices

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


def register(app: App, services: SlackServices) -> None:
    app.command(ids.COMMAND_READINESS)(partial(smtp_readiness, services))
