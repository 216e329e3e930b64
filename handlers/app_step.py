"""The base of the OAuth onboarding steps: a change to what Exchange lets one app do, switched on or off.

Their values are dicts naming the app (`app_id`, the service principal's `object_id`, ...) plus one flag
(`registered` or `granted`): the plan reads them once, so `before` says which app and what was there, and an
undo puts exactly that back. Apply, verify and revert read the tenant fresh, never the plan's cache.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from bot.errors import InvalidInput
from handlers.base import Change, Remediation, fresh_facts

if TYPE_CHECKING:
    from bot.m365.tenant import M365
    from handlers.facts import Facts


class AppStep(Remediation):
    needs_app: ClassVar[bool] = True
    flag: ClassVar[str]  # the value's on/off key
    on_text: ClassVar[str]
    off_text: ClassVar[str]
    target_value = None  # per plan: `target(before)`

    def present(self, facts: Facts, upn: str, value: dict[str, Any]) -> bool:
        """Whether the app holds what this step gives it, read from `facts`."""
        raise NotImplementedError

    def put(self, m365: M365, upn: str, value: dict[str, Any], on: bool) -> None:
        """Give (`on`) or take away what this step is about, for the app `value` names."""
        raise NotImplementedError

    def confirmed(self, m365: M365, upn: str, value: dict[str, Any]) -> bool:
        """After a grant, a further proof Exchange honours it (Test-ServicePrincipalAuthorization); default yes."""
        return True

    def target(self, before: Any) -> dict[str, Any]:
        return {**_value(before), self.flag: True}

    def read(self, facts: Facts, upn: str) -> Any:
        raise NotImplementedError("an app step reads the app its value names: see present()")

    def apply(self, m365: M365, upn: str, before: Any) -> Change:
        value = _value(before)
        if not self.present(fresh_facts(m365), upn, value):  # an earlier attempt may have landed
            self.put(m365, upn, value, True)
        return Change(self.key, upn, before, self.target(value))

    def verify(self, m365: M365, change: Change) -> bool:
        wanted = _value(change.after)
        on = bool(wanted.get(self.flag))
        if self.present(fresh_facts(m365), change.target, wanted) != on:
            return False
        return not on or self.confirmed(m365, change.target, wanted)

    def revert(self, m365: M365, change: Change) -> Change:
        before = _value(change.before)
        current = self.present(fresh_facts(m365), change.target, before)
        if current != bool(before.get(self.flag)):
            self.put(m365, change.target, before, bool(before.get(self.flag)))
        return Change(self.key, change.target, {**before, self.flag: current}, before)

    def display(self, value: Any) -> str:
        if not isinstance(value, dict):
            return str(value)
        return self.on_text if value.get(self.flag) else self.off_text


def _value(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not value.get("app_id") or not value.get("object_id"):
        raise InvalidInput("This step does not say which app it is for; run /smtp-oauth again for a fresh plan.")
    return value
