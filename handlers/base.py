"""The remediation-step contract: inspect / apply / verify / revert, plus what a step weakens and needs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from bot.errors import InvalidInput, M365Error, UserNotFound
from bot.m365.tenant import M365
from handlers.facts import Facts


class Status(StrEnum):
    OK = "ok"  # nothing to do
    CHANGE = "change"  # this step's change would fix it
    BLOCKED = "blocked"  # blocks SMTP AUTH, and no step of this bot changes it (advisory)
    WARN = "warn"  # worth knowing, does not block today
    UNKNOWN = "unknown"  # could not be read (the summary says why)
    NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class Permission:
    """An application permission (Graph or Exchange) or an Entra role the app's service principal needs."""

    name: str
    api: str  # "Microsoft Graph", "Office 365 Exchange Online" or "Entra role"
    reason: str


@dataclass(frozen=True)
class Finding:
    key: str
    title: str
    status: Status
    summary: str
    current: Any = None
    proposed: Any = None
    evidence: dict[str, Any] = field(default_factory=dict)
    advice: str = ""

    @property
    def needs_change(self) -> bool:
        return self.status is Status.CHANGE

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


@dataclass(frozen=True)
class Change:
    """What a step changed: enough to verify it and to put `before` back."""

    key: str
    target: str
    before: Any
    after: Any

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Change:
        return cls(key=data["key"], target=data["target"], before=data["before"], after=data["after"])


class Check:
    """A read-only diagnosis: an advisory when it finds something."""

    key: ClassVar[str]
    title: ClassVar[str]
    permissions: ClassVar[tuple[Permission, ...]] = ()
    changes: ClassVar[bool] = False

    def inspect(self, facts: Facts, upn: str, *, auth_mode: str = "basic") -> Finding:
        """Assess from `facts` (reading whatever is missing); a read failure becomes an UNKNOWN finding."""
        try:
            return self.assess(facts, upn, auth_mode)
        except (InvalidInput, UserNotFound):
            raise
        except M365Error as exc:
            return Finding(self.key, self.title, Status.UNKNOWN, f"Could not check: {exc.message}", advice=exc.hint)

    def assess(self, facts: Facts, upn: str, auth_mode: str) -> Finding:
        raise NotImplementedError

    def finding(self, status: Status, summary: str, **kwargs: Any) -> Finding:
        return Finding(self.key, self.title, status, summary, **kwargs)


class Step(Check):
    """A check whose finding this bot can fix: apply, verify and revert through the approval gate."""

    changes: ClassVar[bool] = True
    impact: ClassVar[str]
    scope: ClassVar[str]  # "mailbox", "user" or "tenant": how far the change reaches

    def apply(self, m365: M365, upn: str) -> Change:
        raise NotImplementedError

    def verify(self, m365: M365, change: Change) -> bool:
        """Read the setting back, fresh, and compare it with `change.after`."""
        return self.read(Facts(m365), change.target) == change.after

    def revert(self, m365: M365, change: Change) -> Change:
        """Put `change.before` back; returns the reverse change (so it can be verified the same way)."""
        raise NotImplementedError

    def display(self, value: Any) -> str:
        """Plain words for a value of this setting, as a plan card shows it."""
        return str(value)

    def read(self, facts: Facts, upn: str) -> Any:
        """The raw value this step changes, as stored in `Change.before` / `Change.after`."""
        raise NotImplementedError
