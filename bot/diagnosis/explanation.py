"""Turn a pasted SMTP reply into a JSON-ready explanation and a short plain-text rendering of it."""

from __future__ import annotations

import textwrap
from typing import Any

from bot.diagnosis.catalogue import CHECK_LABELS, STEP_LABELS
from bot.diagnosis.rules import classify

_WIDTH = 100
_INDENT = "  "


def explain(text: str) -> dict[str, Any]:
    """Classify `text` and return the cause, its fix and the parsed reply as plain JSON types."""
    diagnosis = classify(text)
    cause, reply = diagnosis.cause, diagnosis.reply
    return {
        "cause": cause.key,
        "title": cause.title,
        "code": reply.code,
        "enhanced_status": reply.enhanced_status,
        "explanation": cause.explanation,
        "steps": list(cause.steps),
        "checks": list(cause.checks),
        "advice": cause.advice,
        "transient": diagnosis.transient,
        "docs": cause.docs,
        "reply": reply.normalised,
        "suffix": reply.suffix,
        "matched_by": diagnosis.matched_by,
        "raw": reply.raw,
    }


def format_explanation(d: dict[str, Any]) -> str:
    """Render an `explain()` result for a terminal: plain text, wrapped, a few short sections."""
    lines = [f"{d['title']} [{d['cause']}]"]
    if d["reply"]:
        lines.append(f"Reply: {d['reply']}")
    if d.get("suffix"):
        lines.append(f"Server reference: {d['suffix']}")
    lines += ["", "What it means:", _wrap(d["explanation"]), "", "What to do:", _wrap(d["advice"])]
    if d["steps"]:
        lines += ["", "Fixes the bot can apply (in order):"]
        lines += [
            _wrap(f"{n}. {key}: {STEP_LABELS.get(key, '')}", hang=3) for n, key in enumerate(d["steps"], 1)
        ]
    if d["checks"]:
        lines += ["", "Also check:"]
        lines += [_wrap(f"- {key}: {CHECK_LABELS.get(key, '')}", hang=2) for key in d["checks"]]
    lines.append("")
    if d["transient"]:
        lines.append("Retry: temporary, the same attempt may work later.")
    elif d["cause"] == "unclassified":
        lines.append("Retry: not known to be temporary.")
    else:
        lines.append("Retry: will keep failing until the cause is fixed.")
    if d.get("docs"):
        lines.append(f"Docs: {d['docs']}")
    if d["cause"] == "unclassified" and d.get("raw", "").strip():
        lines += ["", "Raw reply:", textwrap.indent(d["raw"].strip(), _INDENT)]
    return "\n".join(lines)


def _wrap(text: str, hang: int = 0) -> str:
    return textwrap.fill(text, width=_WIDTH, initial_indent=_INDENT, subsequent_indent=_INDENT + " " * hang)
