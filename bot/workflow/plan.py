"""The planner: from a diagnosis, the least change that makes SMTP AUTH work. Pure; no I/O."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bot.workflow.diagnose import Diagnosis
from handlers import REMEDIATIONS, Finding, Remediation, Status, in_plan_order


@dataclass(frozen=True)
class PlannedStep:
    key: str
    title: str
    current: Any
    proposed: Any
    current_text: str
    proposed_text: str
    reason: str
    impact: str
    scope: str
    docs: str


@dataclass
class Plan:
    upn: str
    steps: list[PlannedStep] = field(default_factory=list)
    advisories: list[Finding] = field(default_factory=list)
    ok: list[Finding] = field(default_factory=list)
    not_applicable: list[Finding] = field(default_factory=list)
    not_proposed: list[tuple[Finding, str]] = field(default_factory=list)
    error: str | None = None
    device: dict[str, Any] | None = None  # OAuth onboarding: what the device is configured with

    @property
    def blocked(self) -> bool:
        """Something no remediation of this bot can change also blocks SMTP AUTH."""
        return any(f.status is Status.BLOCKED for f in self.advisories)

    @property
    def unreadable(self) -> list[Finding]:
        """Checks that could not be read: the plan cannot say they are fine."""
        return [f for f in self.advisories if f.status is Status.UNKNOWN]

    @property
    def healthy(self) -> bool:
        """Nothing to change, nothing blocking, and every check was read: never health the bot did not see."""
        return not self.error and not self.steps and not self.blocked and not self.unreadable

    def to_dict(self) -> dict[str, Any]:
        return {
            "upn": self.upn,
            "error": self.error,
            "healthy": self.healthy,
            "blocked": self.blocked,
            "unreadable": [f.key for f in self.unreadable],
            "steps": [asdict(s) for s in self.steps],
            "advisories": [f.to_dict() for f in self.advisories],
            "ok": [f.to_dict() for f in self.ok],
            "not_applicable": [f.to_dict() for f in self.not_applicable],
            "not_proposed": [{"finding": f.to_dict(), "why": why} for f, why in self.not_proposed],
            "device": self.device,
        }


def make_plan(diagnosis: Diagnosis, *, include_org: bool = False) -> Plan:
    """Propose the smallest set of changes that fixes what the diagnosis found.

    Opt-in remediations (the organisation switch) are proposed only when `include_org` asks for them by
    name, and only in place of the one they are an alternative to, where they can fix its finding (see `_choose`).
    """
    plan = Plan(upn=diagnosis.upn, device=diagnosis.device)
    if diagnosis.error is not None:
        plan.error = diagnosis.error.describe()
        return plan
    findings = diagnosis.findings
    chosen = _choose(findings, include_opt_in=include_org)
    for key, finding in findings.items():
        if key in chosen:
            continue
        if finding.status is Status.CHANGE:
            plan.not_proposed.append((finding, REMEDIATIONS[key].why_not(chosen, findings)))
        elif finding.status in (Status.BLOCKED, Status.WARN, Status.UNKNOWN):
            plan.advisories.append(finding)
        elif finding.status is Status.NOT_APPLICABLE:
            plan.not_applicable.append(finding)
        else:
            plan.ok.append(finding)
    plan.steps = [_planned(r, findings[r.key]) for r in in_plan_order(chosen & findings.keys())]
    return plan


def _choose(findings: dict[str, Finding], *, include_opt_in: bool) -> set[str]:
    """The remediations to propose: every one whose finding needs a change, opt-in ones only when asked.

    An opt-in remediation only ever replaces the one it is an alternative to, when it can fix that one's finding
    (the org switch, for a mailbox that inherits): when that one needs no change, neither does the opt-in one.
    """
    def needed(key: str) -> bool:
        return key in findings and findings[key].needs_change

    chosen = {key for key, r in REMEDIATIONS.items() if needed(key) and not r.opt_in}
    for key, remediation in REMEDIATIONS.items():
        if not (remediation.opt_in and include_opt_in):
            continue
        other = remediation.alternative_to
        if other in chosen and remediation.can_replace(findings[other]):
            chosen.discard(other)
            chosen.add(key)
    return chosen


def _planned(remediation: Remediation, finding: Finding) -> PlannedStep:
    return PlannedStep(remediation.key, remediation.title, finding.current, finding.proposed,
                       remediation.display(finding.current), remediation.display(finding.proposed),
                       finding.summary, remediation.impact, remediation.scope, remediation.docs)
