"""What a requester is told in the card's thread when one of their steps moves: who, what, when. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.slack.blocks.kit import FALLBACK_CHARS, section
from bot.slack.blocks.mrkdwn import clip, local_time, md, undated, who
from bot.workflow.model import NoticeKind

N = NoticeKind
ERROR_CHARS = 400

#: Each notice's sentence after "<step> for <mailbox>"; `{by}` the actor, `{at}` the time, `{error}` the step's,
#: `{undo_by}` who asked for the undo and `{undo_approver}` who approved it (its last approver).
SENTENCES: dict[NoticeKind, str] = {
    N.APPROVED: "was approved by {by} at {at}; the bot is applying it now.",
    N.DENIED: "was denied by {by} at {at}; nothing will change.",
    N.EXPIRED: "expired at {at} without a decision; nothing changed. Run `/smtp-enable {upn}` again for a fresh "
               "plan.",
    N.APPLIED: "was applied and verified at {at}.",
    N.FAILED: "failed at {at}; the card has *Retry*. {error}",
    N.UNDONE: "was undone at {at} (asked by {undo_by}, approved by {undo_approver}): the previous value is back.",
    N.UNDO_DENIED: "stays: the undo asked by {undo_by} was denied by {by} at {at}.",
    N.UNDO_EXPIRED: "stays: the undo asked by {undo_by} expired at {at} without a decision.",
    N.UNDO_FAILED: "stays: the undo (asked by {undo_by}, approved by {undo_approver}) failed at {at}. {error}",
    N.APPROVAL_RECORDED: "was approved by {by} at {at} ({count} of {needed}); {more} before it is applied.",
    N.UNDO_APPROVAL_RECORDED: "stays for now: its undo was approved by {by} at {at} ({count} of {needed}); {more} "
                              "before the previous value is restored.",
}


def notice_message(notice: NoticeKind, *, requester: str, request_id: str, upn: str, title: str, actor: str | None,
                   at: datetime, error: str | None = None, undo_requested_by: str | None = None,
                   approvals: int = 1, needed: int = 2, undo_decided_by: str | None = None) -> dict[str, Any]:
    """The thread reply telling `requester` (mentioned, so Slack notifies them) what happened to a step."""
    def named(user: str | None) -> str:  # the requester is mentioned once, at the start
        return "you" if user == requester else who(user)

    sentence = SENTENCES[notice].format(by=named(actor), at=local_time(at), upn=md(upn, 200),
                                        error=md(error or "no reason was recorded.", ERROR_CHARS),
                                        undo_by=named(undo_requested_by), undo_approver=named(undo_decided_by),
                                        count=approvals, needed=needed,
                                        more=_more(needed - approvals))
    text = f"{who(requester)} {md(request_id, 20)}: *{md(title, 150)}* for {md(upn, 200)} {sentence}"
    # The fallback keeps the mention (it is what Slack notifies with); everything else in it is escaped already.
    return {"text": clip(" ".join(undated(text).split()), FALLBACK_CHARS), "blocks": [section(text)]}


def _more(left: int) -> str:
    return "one more approver needed" if left == 1 else f"{max(left, 0)} more approvers needed"
