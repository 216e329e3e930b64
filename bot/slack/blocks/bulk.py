"""A bulk step on the plan card: its mailboxes, progress, per-mailbox failures, Retry failed and Undo. Pure."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from typing import Any

from bot.slack import ids
from bot.slack.blocks.kit import button, confirm
from bot.slack.blocks.mrkdwn import esc, local_time, md, who
from bot.workflow.model import BulkMailbox, MailboxState, RequestStep, StepState

S, M = StepState, MailboxState
SHOWN = 10  # mailboxes listed by name; the rest are counted
PRIOR_WORDS = {None: "inherits", False: "enabled", True: "disabled"}
UPN_CHARS = 113


def _names(mailboxes: Sequence[BulkMailbox], *, why: bool = False) -> str:
    shown = []
    for m in mailboxes[:SHOWN]:
        name = f"`{esc(m.upn[:UPN_CHARS])}`"
        shown.append(f"{name} ({md(m.error or 'no details', 160)})" if why else f"{name} ({PRIOR_WORDS[m.prior]})")
    more = f" and {len(mailboxes) - SHOWN} more" if len(mailboxes) > SHOWN else ""
    return ", ".join(shown) + more


def mailbox_lines(mailboxes: Sequence[BulkMailbox]) -> list[str]:
    """The mailboxes (the first few by name with their own prior value) and how many inherit."""
    inherit = sum(1 for m in mailboxes if m.prior is None)
    head = f"*Mailboxes ({len(mailboxes)}, {inherit} inheriting the organisation's setting):* "
    csv_note = " (every one, with its prior value, in the CSV in this thread)" if needs_csv(mailboxes) else ""
    return [head + _names(mailboxes) + csv_note]


def needs_csv(mailboxes: Sequence[BulkMailbox]) -> bool:
    """More mailboxes than the card names: the full list goes up as a CSV in the card's thread."""
    return len(mailboxes) > SHOWN


def mailboxes_csv(mailboxes: Sequence[BulkMailbox]) -> str:
    """Every mailbox of a bulk step: its address, its own prior SMTP AUTH value (what undo puts back) and state."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("mailbox", "prior_smtp_auth", "state", "note"))
    for m in mailboxes:
        writer.writerow((m.upn, PRIOR_WORDS[m.prior], m.state.value, m.error or ""))
    return out.getvalue()


def approvals_line(step: RequestStep, needed: int) -> str:
    """Who approved so far, for a change that needs several approvers."""
    have = step.approvals or ()
    if step.state not in (S.PENDING, S.REVERT_PENDING) or needed < 2:
        return ""
    names = ", ".join(who(a) for a in have) or "nobody yet"
    return f":busts_in_silhouette: Needs {needed} different approvers: {len(have)} of {needed} approvals so far: {names}"


def progress_line(step: RequestStep, mailboxes: Sequence[BulkMailbox]) -> str:
    """"Applying: 120 of 300 done" while it runs; after it, what was turned off, failed and skipped."""
    counts = Counter(m.state for m in mailboxes)
    total = len(mailboxes)
    if step.state == S.APPLYING:
        done = total - counts[M.PENDING] - counts[M.WRITING]
        failed = f", {counts[M.FAILED]} failed so far" if counts[M.FAILED] else ""
        return f":gear: Applying: {done} of {total} done ({counts[M.OFF]} off{failed})…"
    if step.state == S.REVERTING:
        left = counts[M.OFF] + counts[M.RESTORING]
        return f":gear: Undoing: {counts[M.RESTORED]} of {counts[M.RESTORED] + left} restored…"
    return ""


def outcome_lines(step: RequestStep, mailboxes: Sequence[BulkMailbox]) -> list[str]:
    """What the step did, mailbox by mailbox, once it ran: off, failed (each with why), skipped, restored."""
    counts = Counter(m.state for m in mailboxes)
    lines = []
    if step.state in (S.VERIFIED, S.FAILED, S.REVERT_PENDING):
        lines.append(f"*{counts[M.OFF]} of {len(mailboxes)} turned off* and verified, mailbox by mailbox, at "
                     f"{local_time(step.applied_at or step.updated_at)} after approval by {who(step.decided_by)}")
    failed = [m for m in mailboxes if m.state == M.FAILED]
    if failed:
        lines.append(f":x: *{len(failed)} failed:* {_names(failed, why=True)}")
    skipped = [m for m in mailboxes if m.state == M.SKIPPED]
    if skipped:
        lines.append(f":fast_forward: *{len(skipped)} skipped* (changed or used since the report, left as they are): "
                     f"{_names(skipped, why=True)}")
    retried = counts[M.RETRIED]
    if retried:
        lines.append(f":repeat: {retried} failed here and were handed to a retry step below.")
    if counts[M.RESTORED]:
        lines.append(f":leftwards_arrow_with_hook: {counts[M.RESTORED]} restored to their own prior value "
                     "(inherits included)")
    stuck = [m for m in mailboxes if m.state in (M.OFF, M.RESTORING) and m.error]
    if stuck and step.state == S.VERIFIED and counts[M.RESTORED]:
        lines.append(f":x: *{len(stuck)} not restored:* {_names(stuck, why=True)} — click Undo again")
    return lines


def retry_failed(step: RequestStep, mailboxes: Sequence[BulkMailbox]) -> list[dict[str, Any]]:
    """Retry failed, on a verified step with failed mailboxes: a new step for those only, approved again."""
    failed = sum(1 for m in mailboxes if m.state == M.FAILED)
    if step.state != S.VERIFIED or not failed:
        return []
    dialog = confirm("Retry the failed mailboxes?", f"This proposes turning SMTP AUTH off again for the {failed} "
                     "mailboxes that failed, as a new step that needs its approvals again.", "Retry failed")
    return [button(f"Retry {failed} failed", ids.ACTION_RETRY_FAILED, str(step.id), confirm_dialog=dialog)]
