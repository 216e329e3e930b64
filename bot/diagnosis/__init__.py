"""Explain Exchange Online SMTP replies: parse them, name the cause from a catalogue, and say what fixes it.

The names below load with their submodule on first use, so that code needing only `parse_reply` (a probe
that succeeds) does not load the catalogue and the handler registry behind it.
"""

from __future__ import annotations

from bot.lazy import lazy_exports

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing (a few ms of the CLI's start-up)
if TYPE_CHECKING:
    from bot.diagnosis.catalogue import CATALOGUE, CHECK_LABELS, STEP_LABELS, Cause, get_cause
    from bot.diagnosis.explanation import explain, format_explanation
    from bot.diagnosis.reply import Reply, parse_reply
    from bot.diagnosis.rules import RULES, Diagnosis, Rule, classify
    from bot.diagnosis.samples import SAMPLES, Sample

#: The submodule each public name lives in.
_HOMES = {
    "CATALOGUE": "catalogue", "CHECK_LABELS": "catalogue", "STEP_LABELS": "catalogue", "Cause": "catalogue",
    "get_cause": "catalogue", "RULES": "rules", "Diagnosis": "rules", "Rule": "rules",
    "classify": "rules", "explain": "explanation", "format_explanation": "explanation", "Reply": "reply",
    "parse_reply": "reply", "SAMPLES": "samples", "Sample": "samples",
}

__all__ = [
    "CATALOGUE",
    "CHECK_LABELS",
    "RULES",
    "SAMPLES",
    "STEP_LABELS",
    "Cause",
    "Diagnosis",
    "Reply",
    "Rule",
    "Sample",
    "classify",
    "explain",
    "format_explanation",
    "get_cause",
    "parse_reply",
]

__getattr__ = lazy_exports(__name__, _HOMES, globals())
