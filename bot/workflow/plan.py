"""The planner: from a diagnosis, the least change that makes SMTP AUTH work. Pure; no I/O."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bot.workflow.diagnose import Diagnosis
from handlers import STEPS, Finding, Status


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


@dataclass
class Plan:
    upn: str
    steps: list[PlannedStep] = field(default_factory=list)
    advisories: list[Finding] = field(default_factory=list)
    ok: list[Finding] = field(default_factory=list)
    not_proposed: list[tuple[Finding, str]] = field(default_factory=list)
    error: str | None = None

    @property
    def blocked(self) -> bool:
        """Something no step of this bot can change also blocks SMTP AUTH."""
        return any(f.status is Status.BLOCKED for f in self.advisories)

    @property
    def healthy(self) -> bool:
        return not self.error and not self.steps and not self.blocked

    def to_dict(self) -> dict[str, Any]:
        return {
            "upn": self.upn,
            "error": self.error,
            "healthy": self.healthy,
            "blocked": self.blocked,
            "steps": [asdict(s) for s in self.steps],
            "advisories": [f.to_dict() for f in self.advisories],
            "ok": [f.to_dict() for f in self.ok],
            "not_proposed": [{"finding": f.to_dict(), "why": why} for f, why in self.not_proposed],
        }


def make_plan(diagnosis: Diagnosis, *, include_org: bool = False) -> Plan:
    """Propose the smallest set of changes that fixes what the diagnosis found.

    The mailbox switch is preferred to the organisation switch: the org switch is proposed only when
    `include_org` asks for it by name, and then only if the mailbox inherits (an explicit mailbox value
    wins over the org value, so changing the org would not help).
    """
    plan = Plan(upn=diagnosis.upn)
    if diagnosis.error is not None:
        plan.error = diagnosis.error.describe()
        return plan
    findings = diagnosis.findings
    chosen: list[str] = []
    mailbox, org = findings.get("mailbox_smtp_auth"), findings.get("org_smtp_auth")
    if mailbox is not None and mailbox.needs_change:
        chosen.append("org_smtp_auth" if include_org and mailbox.evidence.get("inherited") else "mailbox_smtp_auth")
    elif include_org and org is not None and org.needs_change:
        chosen.append("org_smtp_auth")
    for key in ("per_user_mfa", "security_defaults"):
        if findings.get(key) is not None and findings[key].needs_change:
            chosen.append(key)
    for key, finding in findings.items():
        step = STEPS.get(key)
        if key in chosen and step is not None:
            plan.steps.append(PlannedStep(key, step.title, finding.current, finding.proposed,
                                          step.display(finding.current), step.display(finding.proposed),
                                          finding.summary, step.impact, step.scope))
        elif finding.status is Status.CHANGE:
            plan.not_proposed.append((finding, _why_not(key, chosen)))
        elif finding.status in (Status.BLOCKED, Status.WARN, Status.UNKNOWN):
            plan.advisories.append(finding)
        else:
            plan.ok.append(finding)
    order = list(STEPS)
    plan.steps.sort(key=lambda s: order.index(s.key))
    return plan


def _why_not(key: str, chosen: list[str]) -> str:
    if key == "org_smtp_auth" and "mailbox_smtp_auth" in chosen:
        return "Enabling SMTP AUTH for this mailbox is the smaller change; ask for the organisation switch by name."
    if key == "org_smtp_auth":
        return "Not needed: this mailbox's own setting decides; ask for the organisation switch by name."
    if key == "mailbox_smtp_auth":
        return "The organisation switch was asked for instead."
    return "Not needed for this user."
