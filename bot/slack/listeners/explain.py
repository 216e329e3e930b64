"""`/smtp-explain REPLY`: what an SMTP reply means and what fixes it, answered in the ack itself."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.diagnosis import explain
from bot.slack import blocks, ids
from bot.slack.listeners.common import Ack, wants_help
from bot.slack.services import SlackServices


def smtp_explain(ack: Ack, command: dict[str, Any]) -> None:
    text = (command.get("text") or "").strip()
    if not text or wants_help(text):
        ack(text=blocks.usage_text(ids.COMMAND_EXPLAIN))
        return
    card = blocks.explain_blocks(explain(text[:4000]))
    ack(text=card["text"], blocks=card["blocks"])


def register(app: App, services: SlackServices) -> None:
    app.command(ids.COMMAND_EXPLAIN)(smtp_explain)
