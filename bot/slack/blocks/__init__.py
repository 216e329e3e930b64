"""Block Kit payloads: plan cards, /smtp-status, App Home, /smtp-explain and short replies. Pure; no I/O."""

from bot.slack.blocks.kit import (
    FALLBACK_CHARS,
    button,
    confirm,
    context,
    divider,
    header,
    section,
)
from bot.slack.blocks.mrkdwn import clip, esc, esc_keeping_mentions, link, local_time, md, undated, utc, who
from bot.slack.blocks.plan import plan_card
from bot.slack.blocks.replies import (
    USAGE,
    error_blocks,
    explain_blocks,
    probe_result_blocks,
    refusal_text,
    usage_text,
)
from bot.slack.blocks.status import home_notice, home_view, status_blocks

__all__ = [
    "FALLBACK_CHARS",
    "USAGE",
    "button",
    "clip",
    "confirm",
    "context",
    "divider",
    "error_blocks",
    "esc",
    "esc_keeping_mentions",
    "explain_blocks",
    "header",
    "home_notice",
    "home_view",
    "link",
    "local_time",
    "md",
    "plan_card",
    "probe_result_blocks",
    "refusal_text",
    "section",
    "status_blocks",
    "undated",
    "usage_text",
    "utc",
    "who",
]
