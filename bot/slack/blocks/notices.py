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
#: `{undo_by}` who asked for the undo and `{undo_approver}` who approved it (its last approver), `{again}` how to
#: open the request anew (`command_for`).
SENTENCES: dict[NoticeKind, str] = {
    N.APPROVED: "was approved by {by} at {at}; the bot is applying it now.",
    N.DENIED: "was denied by {by} at {at}; nothing will change.",
    N.EXPIRED: "expired at {at} without a decision; nothing changed.{again}",
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
#: APPLIED when the step carries an error: a bulk step that did not turn every mailbox off ("47 of 50 turned off;
#: 3 could not be turned off: ..."), or a change read back as made although Microsoft answered an error.
APPLIED_WITH_NOTE = "was applied at {at}; what the bot read back: {error} (the card has the details)."


def notice_message(notice: NoticeKind, *, requester: str, request_id: str, upn: str, title: str, actor: str | None,
                   at: datetime, error: str | None = None, undo_requested_by: str | None = None,
                   approvals: int = 1, needed: int = 2, undo_decided_by: str | None = None,
                   again: str | None = None) -> dict[str, Any]:
    """The thread reply telling `requester` (mentioned, so Slack notifies them) what happened to a step.

    `again`: what opens the request anew, as mrkdwn (`command_for(request, code)`); an expiry names it."""
    def named(user: str | None) -> str:  # the requester is mentioned once, at the start
        return "you" if user == requester else who(user)

    template = APPLIED_WITH_NOTE if notice == N.APPLIED and error else SENTENCES[notice]
    sentence = template.format(by=named(actor), at=local_time(at), upn=md(upn, 200),
                               error=md(error or "no reason was recorded.", ERROR_CHARS),
                               again=f" Run {again} again for a fresh plan." if again else "",
                               undo_by=named(undo_requested_by), undo_approver=named(undo_decided_by),
                               count=approvals, needed=needed, more=_more(needed - approvals))
    text = f"{who(requester)} {md(request_id, 20)}: *{md(title, 150)}* for {md(upn, 200)} {sentence}"
    # The fallback keeps the mention (it is what Slack notifies with); everything else in it is escaped already.
    return {"text": clip(" ".join(undated(text).split()), FALLBACK_CHARS), "blocks": [section(text)]}


def _more(left: int) -> str:
    return "one more approver needed" if left == 1 else f"{max(left, 0)} more approvers needed"
