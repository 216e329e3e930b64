"""`/smtp-readiness`: the progress card while the tenant is read, then the summary card. Pure."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from bot.readiness.model import AccountClass, Report, unused_mailboxes
from bot.slack import ids
from bot.slack.blocks.kit import button, confirm, context, divider, fallback, header, section
from bot.slack.blocks.mrkdwn import esc, md

TOP = 10
ICONS = {
    AccountClass.BASIC_IN_USE: ":warning:",
    AccountClass.ENABLED_USAGE_UNKNOWN: ":grey_question:",
    AccountClass.ENABLED_UNUSED: ":broom:",
    AccountClass.OAUTH: ":white_check_mark:",
    AccountClass.OFF: ":no_entry_sign:",
}


def readiness_progress(phase: str, count: int, days: int) -> dict[str, Any]:
    """The card while the report runs: what is being read and how much so far."""
    read = f" ({count:,} so far)" if count else ""
    text = f":hourglass_flowing_sand: SMTP AUTH readiness (last {days} days): reading {esc(phase)}{read}..."
    return {"text": fallback(text), "blocks": [section(text)]}


def readiness_card(report: Report, requested_by: str = "") -> dict[str, Any]:
    """The summary: counts per class, days until the December change, the top accounts, what could not be read."""
    counts = report.counts()
    days_left = report.days_until_change()
    blocks = [
        header("SMTP AUTH readiness for the end of Basic auth"),
        section(f"Basic auth for SMTP AUTH is *off by default at the end of December 2026*: *{days_left} days* "
                f"from now. {report.mailboxes_read:,} mailboxes read; organisation SMTP AUTH switch "
                f"*{'off' if report.org_disabled else 'on'}*; password sign-ins over the last {report.days} days."),
        section("\n".join(f"{ICONS[k]} *{k.label}*: {counts[k]:,}" for k in AccountClass)),
    ]
    for source in (report.sign_ins, report.service_principals):
        if not source.read:
            blocks.append(section(f":warning: {md(source.problem, 1500)}"))
    if report.oauth_notes:
        blocks.append(context(md(" ".join(report.oauth_notes), 1500)))
    top = report.of(AccountClass.BASIC_IN_USE)[:TOP]
    if top:
        blocks += [divider(), section("*Still sending with a password* (most sign-ins first):\n" + "\n".join(
            f"• `{esc(a.upn)}`: {a.usage.count if a.usage else 0} sign-in(s), {a.usage.failures if a.usage else 0} "
            f"failed, from {len(a.usage.ips) if a.usage else 0} IP(s) → {esc(a.path)}" for a in top))]
    unused = counts[AccountClass.ENABLED_UNUSED]
    if unused:
        blocks.append(section(f":broom: {unused:,} mailbox(es) have SMTP AUTH on but no password sign-in in "
                              f"{report.days} days: candidates to turn off."))
    blocks += close_unused(report)
    asked = f"Asked for by <@{requested_by}>. " if requested_by else ""
    blocks.append(context(f"{asked}The full list with the reason for each account is in the CSV below."))
    summary = (f"SMTP AUTH readiness: {counts[AccountClass.BASIC_IN_USE]} Basic in use, {unused} enabled but "
               f"unused; {days_left} days until Basic is off by default")
    return {"text": fallback(summary), "blocks": blocks}


def report_id(report: Report) -> str:
    """A readiness report's id: when it ran (UTC, to the second)."""
    return report.generated_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def close_unused(report: Report) -> list[dict[str, Any]]:
    """"Close unused (N)" when the report found clean-up candidates: it opens the clean-up's plan card in this
    thread, from the report run again at the click (approved before anything changes)."""
    count = len(unused_mailboxes(report))
    if not count:
        return []
    dialog = confirm("Propose closing SMTP AUTH?", f"This runs the report again and proposes turning SMTP AUTH off "
                     f"for the mailboxes still unused in the last {report.days} days, as a plan card in this "
                     "thread. Nothing changes until it is approved.", "Propose")
    return [{"type": "actions", "block_id": ids.readiness_block_id(report_id(report)), "elements": [
        button(f"Close unused ({count:,})", ids.ACTION_CLOSE_UNUSED, ids.readiness_value(report.days,
                                                                                          report_id(report)),
               confirm_dialog=dialog)]}]
