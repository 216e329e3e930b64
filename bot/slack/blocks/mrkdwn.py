"""Text for mrkdwn: escaping, cutting, links, mentions and times. Pure."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bot.clock import utc_text

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MENTION = re.compile(r"(<@[UW][A-Z0-9]{1,30}>)")
_USER_ID = re.compile(r"[UW][A-Z0-9]{1,30}")
_URL = re.compile(r"https?://[^\s<>|&]{1,2000}")


def esc(text: Any) -> str:
    """`text` made inert for mrkdwn: `&`, `<`, `>` escaped, so it cannot mention, link or ping anyone."""
    return "".join(_ESCAPES.get(c, c) for c in str(text))


def esc_keeping_mentions(text: str) -> str:
    """Like `esc`, but `<@U…>` mentions and `local_time` date tokens (which the bot's own messages contain) stay."""
    return "".join(part if _KEPT.fullmatch(part) else esc(part) for part in _KEPT.split(text))


def code(text: Any) -> str:
    """Untrusted `text` as inline code: escaped, in backticks (a backtick inside would end it early)."""
    inner = esc(str(text).replace("`", "'"))
    return f"`{inner}`"


def md(text: Any, limit: int) -> str:
    """Untrusted `text` for mrkdwn: escaped, then cut to `limit` characters."""
    return clip(esc(text), limit)


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters ending in "…", never inside an `&entity;` or a `<…>` token."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if cut.rfind("&") > cut.rfind(";"):
        cut = cut[: cut.rfind("&")]
    if cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]
    return cut.rstrip() + "…"


def tidy(text: Any, limit: int, *, lines: bool = False) -> str:
    """Plain text with its whitespace tidied (on one line unless `lines`), cut to `limit`."""
    rows = str(text).splitlines() if lines else [str(text)]
    flat = "\n".join(" ".join(row.split()) for row in rows).strip() or "-"
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def link(url: str, label: str) -> str:
    """A mrkdwn link to a web address; anything else shown as (escaped) text."""
    return f"<{url}|{esc(label)}>" if _URL.fullmatch(url) else md(url, 300)


def query_link(url: str, label: str) -> str:
    """Like `link`, for an address with a query string (a Slack permalink's `?thread_ts=…&cid=…`): its `&` are
    written `&amp;`, which Slack decodes (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return link(url, label) if "&" not in url or not _URL.fullmatch(url.replace("&", "")) else (
        f"<{url.replace('&', '&amp;')}|{esc(label)}>")


def md_links(text: Any, limit: int) -> str:
    """Like `md`, but the web addresses in `text` become links (and are never cut in half)."""
    parts = re.split(f"({_URL.pattern})", str(text))
    return clip("".join(link(part, part) if _URL.fullmatch(part) else esc(part) for part in parts), limit)


def who(user: str | None) -> str:
    """A mention of a Slack user id; anything else (the bot, nobody) as plain words."""
    if user and _USER_ID.fullmatch(user):
        return f"<@{user}>"
    return esc(user or "someone")


DATE_FORMAT = "{time} {date_short_pretty}"
_DATE = re.compile(r"<!date\^\d{1,12}\^[^<>|]*\|([^<>|]*)>")
#: What `esc_keeping_mentions` keeps as it is: a mention, or a `local_time` date token.
_KEPT = re.compile(r"(<@[UW][A-Z0-9]{1,30}>|<!date\^\d{1,12}\^[^<>|]*\|[^<>|]*>)")


def local_time(moment: datetime | None) -> str:
    """A time in each reader's own time zone: Slack's date token ("09:22 today", "09:22 Nov 28, 2026" as the
    reader's Slack shows them), with "2026-11-28 09:22 UTC" where Slack cannot show the token. mrkdwn only:
    plain-text fields (headers, buttons, confirm dialogs, `text` fallbacks) take `utc` or `undated`."""
    if moment is None:
        return "unknown time"
    moment = moment.astimezone(UTC)
    return f"<!date^{int(moment.timestamp())}^{DATE_FORMAT}|{utc(moment)}>"


utc = utc_text  # a time as plain text: "2026-11-28 09:22 UTC" (bot.clock's, shared with the workflow)


def undated(text: str) -> str:
    """mrkdwn with its `local_time` date tokens replaced by their UTC text, for a notification's `text` fallback."""
    return _DATE.sub(r"\1", text)
