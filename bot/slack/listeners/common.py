"""What the listeners share: the ephemeral reply, the parsed click, and which outcomes stay silent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.workflow.model import Outcome, OutcomeKind

Ack = Callable[..., Any]
Respond = Callable[..., Any]

#: Outcomes the redrawn card shows by itself; anything else is told to the clicker.
QUIET = frozenset({OutcomeKind.APPROVED, OutcomeKind.DENIED, OutcomeKind.UNDO_APPROVED, OutcomeKind.UNDO_DENIED,
                   OutcomeKind.UNDO_REQUESTED, OutcomeKind.RETRY, OutcomeKind.APPLY_ANYWAY})


def ephemeral(respond: Respond, text: str, extra: dict[str, Any] | None = None) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False, **(extra or {}))


def tell(respond: Respond, outcome: Outcome) -> None:
    """Tell the clicker what happened, unless the card says it already."""
    if outcome.kind not in QUIET:
        ephemeral(respond, outcome.message)


def clicked(body: dict[str, Any]) -> tuple[str, str] | None:
    """(user id, button value) of a well-formed block_actions body, else None."""
    try:
        user = body["user"]["id"]
        value = body["actions"][0]["value"]
    except (KeyError, IndexError, TypeError):
        return None
    if not isinstance(user, str) or not isinstance(value, str) or not user:
        return None
    return user, value
