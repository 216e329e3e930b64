"""The catalogue of causes behind Exchange Online SMTP AUTH replies, with what fixes each one."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from bot.diagnosis.cause import Cause
from bot.diagnosis.causes_auth import AUTH_CAUSES
from bot.diagnosis.causes_delivery import DELIVERY_CAUSES
from bot.diagnosis.causes_sending import SENDING_CAUSES
from handlers.registry import CHECKS, REMEDIATIONS, Labels

STEP_LABELS: Mapping[str, str] = Labels(REMEDIATIONS)
"""Remediation keys the bot can run, with the one-line label each remediation declares."""

CHECK_LABELS: Mapping[str, str] = Labels(CHECKS)
"""Read-only diagnosis checks worth looking at; the bot reports on them but changes nothing."""

CATALOGUE: Mapping[str, Cause] = MappingProxyType(
    {cause.key: cause for cause in (*AUTH_CAUSES, *SENDING_CAUSES, *DELIVERY_CAUSES)}
)
"""Every known cause by its stable key."""

UNCLASSIFIED = CATALOGUE["unclassified"]


def get_cause(key: str) -> Cause:
    """The cause with this key; KeyError naming the known keys if there is none."""
    try:
        return CATALOGUE[key]
    except KeyError:
        raise KeyError(f"unknown cause {key!r}; known: {', '.join(CATALOGUE)}") from None
