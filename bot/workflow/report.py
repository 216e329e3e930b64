"""Plain-text rendering of a diagnosis and its plan, for the terminal. Pure."""

from __future__ import annotations

from bot.workflow.diagnose import Diagnosis
from bot.workflow.model import AUTH_MODE_WORDS
from bot.workflow.plan import Plan
from handlers import Status

MARK = {
    Status.OK: "ok     ",
    Status.CHANGE: "change ",
    Status.BLOCKED: "BLOCKED",
    Status.WARN: "warn   ",
    Status.UNKNOWN: "unknown",
    Status.NOT_APPLICABLE: "n/a    ",
}


def format_report(diagnosis: Diagnosis, plan: Plan) -> str:
    lines = [f"== {diagnosis.upn} (auth: {AUTH_MODE_WORDS.get(diagnosis.auth_mode, diagnosis.auth_mode)})"]
    if plan.error:
        lines.append("   error: " + plan.error.replace("\n", "\n          "))
        return "\n".join(lines)
    skipped = {finding.key for finding, _ in plan.not_proposed}
    for finding in diagnosis.findings.values():
        mark = "skip   " if finding.key in skipped else MARK[finding.status]
        lines.append(f"   [{mark}] {finding.title}: {finding.summary}")
    if plan.steps:
        lines.append("   Plan (each step needs an approver):")
        for n, step in enumerate(plan.steps, 1):
            lines.append(f"     {n}. {step.title}: {step.current_text} -> {step.proposed_text}")
            lines.append(f"        impact: {step.impact}")
            lines.append(f"        docs: {step.docs}")
    for finding, why in plan.not_proposed:
        lines.append(f"   Not proposed: {finding.title}. {why}")
    for finding in plan.advisories:
        if finding.advice:
            lines.append(f"   Advice ({finding.title}): {finding.advice}")
        if finding.docs:
            lines.append(f"   docs ({finding.title}): {finding.docs}")
    if plan.healthy:
        lines.append("   Nothing blocks SMTP AUTH for this mailbox.")
    elif plan.blocked and plan.steps:
        blockers = ", ".join(f.title for f in plan.advisories if f.status is Status.BLOCKED)
        lines.append(f"   These changes will NOT be enough: {blockers} also blocks SMTP AUTH and this bot cannot "
                     "change it (see BLOCKED above); on Slack an approver must choose Apply anyway first.")
    elif plan.blocked:
        lines.append("   Blocked by something this bot does not change (see BLOCKED above).")
    if plan.unreadable:
        names = ", ".join(f.title for f in plan.unreadable)
        lines.append(f"   Not fully checked: {names} could not be read (see above); diagnose again to check it.")
    if plan.device:
        d = plan.device
        lines += ["   What the device needs (once the plan is applied):",
                  f"     SMTP server {d['host']}, port {d['port']}, {d['security']}; username {d['username']}; "
                  f"{d['auth']}",
                  f"     tenant id {d['tenant_id']}, client id {d['client_id']}, the app's own secret or certificate",
                  f"     token from {d['token_endpoint']} with scope {d['scope']}"]
    return "\n".join(lines)
