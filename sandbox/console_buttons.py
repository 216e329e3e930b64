"""The console's buttons: numbered once across everything shown, so the number printed is what `click` presses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: Where a button was shown: `(channel, ts)` of a message, `("home", user)` for an App Home, None for a reply
#: to a command, which Slack shows once and the console cannot reach again.
Place = tuple[str, str] | None


@dataclass(frozen=True)
class Clickable:
    """A button as shown: its place, the rendered button (number, text, action_id, value, confirm), its viewer."""

    place: Place
    button: Any
    visible_to: str | None = None  # an ephemeral message's only viewer


@dataclass
class ButtonBook:
    """Every button shown since start by number; a message shown again gets new numbers, its old ones retire."""

    next_number: int = 1
    shown: dict[int, Clickable] = field(default_factory=dict)
    latest: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def record(self, place: Place, buttons: Sequence[Any], visible_to: str | None = None) -> None:
        """Note `buttons`, numbered from `next_number` by the renderer, as shown at `place`."""
        for button in buttons:
            self.shown[button.number] = Clickable(place, button, visible_to)
        self.next_number += len(buttons)
        if place is not None:
            self.latest[place] = [b.number for b in buttons]

    def find(self, word: str, user: str) -> Clickable | str:
        """The button numbered `word` if `user` can press it now, else why not."""
        clickable = self.shown.get(int(word)) if word.isdigit() else None
        if clickable is None:
            last = self.next_number - 1
            return f"There is no button {word}; buttons shown so far are numbered 1 to {last}." if last else (
                "No buttons have been shown yet.")
        if clickable.place is None:
            return f"Button {word} was on a reply to a command, which Slack shows only once; it cannot be clicked."
        if clickable.button.number not in self.latest.get(clickable.place, []):
            now = self.latest.get(clickable.place) or []
            return f"Button {word} was on an earlier version of that message; " + (
                f"its buttons are now {', '.join(map(str, now))}." if now else "it has no buttons now.")
        if clickable.visible_to not in (None, user):
            return f"Button {word} is on a message only {clickable.visible_to} can see."
        return clickable
