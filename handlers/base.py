"""The handler contract: a `Check` reads a setting; a `Remediation` also applies, verifies and reverts it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from bot.errors import InvalidInput, M365Error, SettingChanged, UserNotFound

if TYPE_CHECKING:
    from bot.m365.graph import Op
    from bot.m365.tenant import M365
    from handlers.facts import Facts


class Status(StrEnum):
    OK = "ok"  # nothing to do
    CHANGE = "change"  # this remediation's change would fix it
    BLOCKED = "blocked"  # blocks SMTP AUTH, and no remediation of this bot changes it (advisory)
    WARN = "warn"  # worth knowing, does not block today
    UNKNOWN = "unknown"  # could not be read (the summary says why)
    NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class Permission:
    """An application permission (Graph or Exchange) or an Entra role the app's service principal needs.

    `covered_by` names broader permissions that also allow what this declaration is for (a `.ReadWrite.`
    permission always covers its `.Read.` twin without saying so). `unverified` names others that may also
    allow it, which no public source confirms (doctor proves or disproves them with a harmless call).
    """

    name: str
    api: str  # "Microsoft Graph", "Office 365 Exchange Online" or "Entra role"
    reason: str
    covered_by: tuple[str, ...] = ()
    unverified: tuple[str, ...] = ()


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
    docs: str = ""  # the Microsoft page an admin reads about this setting (the handler's `docs`)

    @property
    def needs_change(self) -> bool:
        return self.status is Status.CHANGE

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


@dataclass(frozen=True)
class Change:
    """What a remediation changed: enough to verify it and to put `before` back."""

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
    label: ClassVar[str]  # one line for the reply catalogue: what to look at (or, for a remediation, do)
    report_order: ClassVar[int]  # position in a diagnosis report, lowest first
    docs: ClassVar[str]  # Microsoft's page for the setting
    permissions: ClassVar[tuple[Permission, ...]] = ()
    changes: ClassVar[bool] = False
    needs_app: ClassVar[bool] = False  # an OAuth onboarding check: runs only when a diagnosis names an app

    def inspect(self, facts: Facts, upn: str, *, auth_mode: str = "basic") -> Finding:
        """Assess from `facts` (reading whatever is missing); a read failure becomes an UNKNOWN finding."""
        try:
            return self.assess(facts, upn, auth_mode)
        except (InvalidInput, UserNotFound):
            raise
        except M365Error as exc:
            return self.finding(Status.UNKNOWN, f"Could not check: {exc.message}", advice=exc.hint)

    def assess(self, facts: Facts, upn: str, auth_mode: str) -> Finding:
        raise NotImplementedError

    def finding(self, status: Status, summary: str, **kwargs: Any) -> Finding:
        return Finding(self.key, self.title, status, summary, docs=self.docs, **kwargs)


class Remediation(Check):
    """A kind of change the bot can make: a check whose finding it fixes, through the approval gate.

    `apply` and `revert` are written once here: read the value, write the new one, return the `Change`.
    A remediation provides `read`, `write`, `target_value` and `normalise` (how a stored value is written).
    """

    changes: ClassVar[bool] = True
    impact: ClassVar[str]
    scope: ClassVar[str]  # "mailbox", "user", "app", "tenant" or "bulk": how far the change reaches
    plan_priority: ClassVar[int]  # order in a plan, narrowest change first
    target_value: ClassVar[Any]  # the value `apply` writes
    opt_in: ClassVar[bool] = False  # proposed only when asked for by name
    alternative_to: ClassVar[str | None] = None  # the remediation this one can stand in for

    def read(self, facts: Facts, upn: str) -> Any:
        """The raw value this remediation changes, as stored in `Change.before` / `Change.after`."""
        raise NotImplementedError

    def write(self, m365: M365, upn: str, value: Any) -> None:
        raise NotImplementedError

    def normalise(self, value: Any) -> Any:
        """A stored value (`Change.before`, read back from JSON) as `write` takes it."""
        return value

    def target(self, before: Any) -> Any:
        """The value `apply` writes over `before` (OAuth steps name their app in it)."""
        return self.target_value

    def apply(self, m365: M365, upn: str, before: Any) -> Change:
        """Write the target value over `before`, the value the plan read: the original an undo puts back.

        Refuses (SettingChanged, nothing written) when the setting now holds neither `before` nor the target
        (an earlier attempt may have landed): someone changed it since the plan its approval was for.
        """
        current = self.read(fresh_facts(m365), upn)
        if current not in (before, self.target_value):
            raise SettingChanged(self.title, self.display(before), self.display(current))
        self.write(m365, upn, self.target_value)
        return Change(self.key, upn, before, self.target_value)

    def verify(self, m365: M365, change: Change) -> bool:
        """Read the setting back, fresh, and compare it with `change.after`."""
        return self.read(fresh_facts(m365), change.target) == change.after

    def revert(self, m365: M365, change: Change) -> Change:
        """Put `change.before` back; returns the reverse change (so it can be verified the same way)."""
        current = self.read(fresh_facts(m365), change.target)
        before = self.normalise(change.before)
        self.write(m365, change.target, before)
        return Change(self.key, change.target, current, before)

    def display(self, value: Any) -> str:
        """Plain words for a value of this setting, as a plan card shows it."""
        return str(value)

    def can_replace(self, finding: Finding) -> bool:
        """True when this remediation fixes what `finding` (of `alternative_to`) needs changed."""
        return False

    def why_not(self, chosen: Collection[str], findings: Mapping[str, Finding]) -> str:
        """Why a plan with `chosen` remediations does not propose this one although its finding asks for it."""
        return "Not needed for this user."


def tri_state(value: Any) -> bool | None:
    """An Exchange switch that can be true, false or unset (null inherits)."""
    return None if value is None else bool(value)


def fresh_facts(m365: M365) -> Facts:
    """Facts with an empty cache, so apply, verify and revert read the tenant as it is now."""
    from handlers.facts import Facts  # imported here so the registry loads without msal and requests

    return Facts(m365)


def graph_op(action: str, permission: str) -> Op:
    """The Graph client's description of a write (what it does, what permission it needs)."""
    from bot.m365.graph import Op  # imported here so the registry loads without msal and requests

    return Op(action, permission)
