"""Buttons as a person sees them on a Slack message: label, action id, value, block and style."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Button:
    """A button as a person sees it on a message: its label and what clicking it sends."""

    text: str
    action_id: str
    value: str | None
    block_id: str | None
    style: str | None = None


class ButtonNotFound(LookupError):
    """No button with that label or action_id on the message; the message lists the buttons there are."""


def buttons_in(blocks: list[dict[str, Any]]) -> list[Button]:
    """The buttons of some blocks, in order: in actions blocks and as section accessories."""
    found: list[Button] = []
    for block in blocks:
        elements = block.get("elements", []) if block.get("type") == "actions" else [block.get("accessory")]
        for element in elements:
            if isinstance(element, dict) and element.get("type") == "button":
                found.append(
                    Button(
                        element.get("text", {}).get("text", ""),
                        element.get("action_id", ""),
                        element.get("value"),
                        block.get("block_id"),
                        element.get("style"),
                    )
                )
    return found
