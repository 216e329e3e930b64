"""Block Kit constructors, Slack's limits and the budget that keeps a message under them. Pure."""

from __future__ import annotations

from typing import Any

from bot.slack.blocks.mrkdwn import clip, esc, tidy

Block = dict[str, Any]

# Slack's limits (reference §7), and our own budgets below them.
MAX_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_CHARS = 12_000  # all text of one message; Slack answers msg_blocks_too_long from about 13,000
VIEW_CHARS = 30_000  # App Home has no documented total; keep it light all the same
SECTION_CHARS = 3000
HEADER_CHARS = 150
BUTTON_CHARS = 75
CONFIRM_TITLE_CHARS = 100
CONFIRM_TEXT_CHARS = 300
CONFIRM_BUTTON_CHARS = 30
FALLBACK_CHARS = 300
LIST_LIMIT = 15  # requests or probes listed by /smtp-status and App Home
EXTRAS_ROOM = (4, 2500)  # blocks and characters a long plan leaves for the first advisories


def fallback(text: str) -> str:
    """The notification text of a message: escaped too, since Slack formats it."""
    return clip(esc(tidy(text, FALLBACK_CHARS)), FALLBACK_CHARS)


def plain(text: Any, limit: int, *, lines: bool = False) -> dict[str, Any]:
    return {"type": "plain_text", "text": tidy(text, limit, lines=lines), "emoji": True}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, HEADER_CHARS)}


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_CHARS)}}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(t, SECTION_CHARS)} for t in texts[:10]]}


def divider() -> Block:
    return {"type": "divider"}


def confirm(title: str, text: str, ok: str, *, style: str | None = None) -> dict[str, Any]:
    dialog = {"title": plain(title, CONFIRM_TITLE_CHARS), "text": plain(text, CONFIRM_TEXT_CHARS, lines=True),
              "confirm": plain(ok, CONFIRM_BUTTON_CHARS), "deny": plain("Cancel", CONFIRM_BUTTON_CHARS)}
    if style:
        dialog["style"] = style
    return dialog


def button(text: str, action_id: str, value: str, *, style: str | None = None,
           confirm_dialog: dict[str, Any] | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "action_id": action_id, "text": plain(text, BUTTON_CHARS),
                               "value": value}
    if style:
        element["style"] = style
    if confirm_dialog:
        element["confirm"] = confirm_dialog
    return element


def chars(node: Any) -> int:
    """All text in `node`, the way Slack adds it up against its message size limit."""
    if isinstance(node, dict):
        return sum(len(v) if k == "text" and isinstance(v, str) else chars(v) for k, v in node.items())
    if isinstance(node, list):
        return sum(chars(item) for item in node)
    return 0


class Budget:
    """Blocks and characters left; `take` spends them on a group of blocks if it fits, keeping some back."""

    def __init__(self, blocks: int, chars: int) -> None:
        self.blocks, self.chars = blocks, chars

    def take(self, group: list[Block], *, keep: tuple[int, int] = (0, 0)) -> bool:
        size = chars(group)
        if len(group) > self.blocks - keep[0] or size > self.chars - keep[1]:
            return False
        self.blocks, self.chars = self.blocks - len(group), self.chars - size
        return True


def listed(items: list[str], budget: Budget, more: str) -> list[Block]:
    """One section per item while the budget lasts, then a note saying how many were left out."""
    blocks: list[Block] = []
    for n, text in enumerate(items):
        block = section(text)
        if n == LIST_LIMIT or not budget.take([block]):
            return [*blocks, context(f"_…and {len(items) - n} more {more}._")]
        blocks.append(block)
    return blocks

