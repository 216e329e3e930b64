"""Explain Exchange Online SMTP replies: parse them, name the cause from a catalogue, and say what fixes it."""

from bot.diagnosis.catalogue import CATALOGUE, CHECK_LABELS, STEP_LABELS, Cause, get_cause
from bot.diagnosis.classify import RULES, Diagnosis, Rule, classify
from bot.diagnosis.explain import explain, format_explanation
from bot.diagnosis.reply import Reply, parse_reply
from bot.diagnosis.samples import SAMPLES, Sample

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
