"""The plan card's confirm dialogs, written to fit Slack's 300 characters and to end on a whole word. Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.slack.blocks.kit import CONFIRM_TEXT_CHARS, confirm
from bot.workflow.model import ChangeRequest, RequestStep

SEE_CARD = "See the card for the full impact."
UPN_CHARS = 113  # Entra's longest user principal name
SCOPE_WORDS = {"mailbox": "This mailbox only.", "user": "This user only.",
               "tenant": "Every mailbox in the organisation.", "bulk": "Each mailbox listed on the card.",
               "app": "This app only; no mailbox until access is granted."}


def shorten(text: Any, limit: int) -> str:
    """`text` on one line in at most `limit` characters; when it must be cut, after a whole word, with "…"."""
    flat = " ".join(str(text).split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:.(") + "…"


def change_words(step: RequestStep, limit: int) -> str:
    """"Title: current → proposed." in `limit` characters, each part shortened on a word."""
    proposed = step.proposed or {}
    title = shorten(step.title, 60)
    room = max(12, (limit - len(title) - 5) // 2)
    return (f"{title}: {shorten(proposed.get('current_text', '?'), room)} → "
            f"{shorten(proposed.get('proposed_text', '?'), room)}.")


def scope_words(step: RequestStep) -> str:
    return SCOPE_WORDS.get(str((step.proposed or {}).get("scope")), "")


def impact_words(step: RequestStep, limit: int) -> str:
    """The impact's first whole sentences that fit in `limit`, else how far the change reaches."""
    kept = ""
    for sentence in re.split(r"(?<=[.!?])\s+", " ".join(str((step.proposed or {}).get("impact", "")).split())):
        if len(f"{kept} {sentence}".strip()) > limit:
            break
        kept = f"{kept} {sentence}".strip()
    return kept or scope_words(step)


def approve(step: RequestStep) -> dict[str, Any]:
    """One change: what it changes, as much of its impact as fits in whole sentences, and where the rest is."""
    change = change_words(step, 150)
    room = CONFIRM_TEXT_CHARS - len(change) - len(SEE_CARD) - len(" Impact:  ")
    impact = impact_words(step, room)
    text = " ".join(filter(None, [change, impact and f"Impact: {impact}", SEE_CARD]))
    return confirm("Approve this change?", text, "Approve", style="primary")


def approve_all(request: ChangeRequest, steps: Sequence[RequestStep]) -> dict[str, Any]:
    """Every open change on a line of its own while they fit, else their titles, then where the impact is."""
    mailbox = request.upn if len(request.upn) <= UPN_CHARS else "this mailbox"
    head = f"Approve all {len(steps)} changes for {mailbox}?"
    room = CONFIRM_TEXT_CHARS - len(head) - len(SEE_CARD) - 2
    each = room // max(1, len(steps)) - 1
    lines = [_line(s, each) for s in steps] if each >= 50 else _titles(steps, room)
    return confirm(f"Approve all {len(steps)} changes?", "\n".join([head, *lines, SEE_CARD]), "Approve all",
                   style="primary")


def _line(step: RequestStep, limit: int) -> str:
    """"• Title: current → proposed. Scope." in `limit` characters, else without the scope, else the title."""
    change = change_words(step, limit - 2)
    lines = (f"• {change} {scope_words(step)}".rstrip(), f"• {change}", f"• {shorten(step.title, limit - 3)}.")
    return next((line for line in lines if len(line) <= limit), lines[-1])


def _titles(steps: Sequence[RequestStep], room: int) -> list[str]:
    """"• Title" per step while they fit in `room`, keeping space for a "…and N more." line."""
    lines: list[str] = []
    for n, step in enumerate(steps):
        line = f"• {shorten(step.title, 60)}."
        rest = len(steps) - n - 1
        if len("\n".join([*lines, line])) + (len(f"\n…and {rest} more.") if rest else 0) > room:
            return [*lines, f"…and {len(steps) - n} more."]
        lines.append(line)
    return lines


def undo(step: RequestStep, before: str) -> dict[str, Any]:
    text = (f"This asks to restore the previous value of {shorten(step.title, 60)} ({shorten(before, 80)}). "
            "An approver must approve the undo before anything changes.")
    return confirm("Undo this change?", text, "Ask to undo")


def approve_undo(step: RequestStep, before: str) -> dict[str, Any]:
    text = f"This restores the previous value of {shorten(step.title, 60)} ({shorten(before, 150)})."
    return confirm("Approve the undo?", text, "Approve undo", style="primary")


def apply_anyway(blockers: Sequence[str]) -> dict[str, Any]:
    names = shorten(", ".join(blockers) or "a blocker the bot cannot change", 100)
    text = (f"These changes will not make SMTP AUTH work while {names} still blocks it. Choosing this is recorded "
            "in the audit log; each change then still needs its own approval.")
    return confirm("Apply anyway?", text, "Apply anyway", style="danger")
