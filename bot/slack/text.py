"""Block Kit blocks as readable plain text with numbered buttons, for the terminal console. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

RULE = "-" * 60
EMOJI = {
    "warning": "⚠️",
    "white_check_mark": "✅",
    "x": "❌",
    "no_entry": "⛔",
    "no_entry_sign": "🚫",
    "hourglass_flowing_sand": "⏳",
    "gear": "⚙️",
    "clock3": "🕒",
    "leftwards_arrow_with_hook": "↩️",
    "grey_question": "❔",
}
_TOKEN = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")
_BOLD = re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])")
_SHORTCODE = re.compile(r":([a-z0-9_+-]+):")


@dataclass(frozen=True)
class Button:
    """A button of the rendered blocks; `number` is what the console user types to click it."""

    number: int
    text: str
    action_id: str
    value: str
    block_id: str | None = None
    confirm: str | None = None


def _token(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target[0] in "@#":
        return target[0] + (label or target[1:])
    if target.startswith("!"):
        name = target[1:].split("^")[0]
        return label or ("@" + name if name in ("here", "channel", "everyone") else name)
    return f"{label} ({target})" if label and label != target else target


def plain(text: str) -> str:
    """mrkdwn as plain text: mentions as @U…, links as "label (url)", no emphasis marks, entities decoded."""
    text = _TOKEN.sub(_token, text)
    for pattern in (_BOLD, _ITALIC, _STRIKE):
        text = pattern.sub(r"\1", text)
    text = _SHORTCODE.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(obj: dict[str, Any] | None) -> str:
    if not obj:
        return ""
    return plain(obj["text"]) if obj.get("type") == "mrkdwn" else obj.get("text", "")


def render(blocks: list[dict[str, Any]], first: int = 1) -> tuple[str, list[Button]]:
    """The blocks as text, and their buttons numbered from `first` in order of appearance (`[1 Approve] [2 Deny]`)."""
    out: list[str] = []
    buttons: list[Button] = []

    def label(element: dict[str, Any], block_id: str | None) -> str:
        dialog = element.get("confirm")
        number = first + len(buttons)
        buttons.append(Button(number, _text(element.get("text")), element.get("action_id", ""),
                              element.get("value", ""), block_id, _text(dialog.get("text")) if dialog else None))
        return f"[{number} {buttons[-1].text}]"

    for block in blocks:
        kind, block_id = block.get("type"), block.get("block_id")
        if kind == "header":
            title = _text(block.get("text"))
            out += ["", title, "=" * len(title)]
        elif kind == "section":
            parts = [_text(block.get("text")), *(_text(f) for f in block.get("fields", []))]
            accessory = block.get("accessory")
            if accessory and accessory.get("type") == "button":
                parts.append(label(accessory, block_id))
            out += ["", "\n".join(p for p in parts if p)]
        elif kind == "context":
            texts = [_text(e) if "text" in e else e.get("alt_text", "") for e in block.get("elements", [])]
            out.append("[" + " | ".join(t for t in texts if t) + "]")
        elif kind == "divider":
            out += ["", RULE]
        elif kind == "actions":
            out.append(" ".join(label(e, block_id) for e in block.get("elements", []) if e.get("type") == "button"))
    return "\n".join(out).strip("\n"), buttons
