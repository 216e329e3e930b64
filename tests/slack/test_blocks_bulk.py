"""The clean-up's plan card: mailboxes, two approvers, progress, per-mailbox failures, Retry failed, Undo, limits."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from blocks_helpers import CREATED, NOW, buttons, clicks, joined, validate

from bot.slack import ids
from bot.slack.blocks import local_time, plan_card
from bot.workflow.model import (
    CLEANUP_KIND,
    BulkMailbox,
    ChangeRequest,
    MailboxState,
    RequestState,
    RequestStep,
    RequestView,
    StepState,
)
from handlers import BULK, CLEANUP

S, M = StepState, MailboxState
HANDLER = BULK["bulk_smtp_auth_off"]


def cleanup_view(count: int, states: dict[int, MailboxState] | None = None, *, state: StepState = S.PENDING,
                 approvals: tuple[str, ...] | None = None, error: str = "Exchange said: boom",
                 org: bool = False) -> RequestView:
    label = f"{count} mailboxes unused for 30 days"
    request = ChangeRequest("CR-CLEAN1", label, "tenant", "U0REQUEST", "C0OPS", "1.1", RequestState.PLANNED,
                            CREATED, CREATED + timedelta(minutes=60), None,
                            {"plan": {"upn": label, "cleanup": {"days": 30, "count": count}}},
                            {"kind": CLEANUP_KIND, "days": 30})
    decided = state != S.PENDING
    step = RequestStep(1, request.id, 0, HANDLER.key, HANDLER.title, state, None, None, {
        "current_text": f"on for {count} mailboxes", "proposed_text": "off for each of them (its own switch)",
        "impact": HANDLER.impact, "reason": "No use in 30 days.", "scope": "bulk", "docs": HANDLER.docs,
        "reduces_exposure": True, "approvals_needed": 2}, "U0APPROVE" if decided else None,
        CREATED + timedelta(minutes=2) if decided else None, CREATED + timedelta(minutes=3) if decided else None,
        None, 1, 3, CREATED + timedelta(minutes=5), approvals=approvals)
    mailboxes = tuple(BulkMailbox(1, n, f"mailbox{n}@contoso.com", None if n % 3 else False,
                                  (states or {}).get(n, M.PENDING), error if (states or {}).get(n) in
                                  (M.FAILED, M.SKIPPED) else None, CREATED) for n in range(count))
    steps = [step]
    if org:
        handler = CLEANUP["org_smtp_auth_off"]
        steps.append(RequestStep(2, request.id, 1, handler.key, handler.title, S.PENDING, None, None, {
            "current": False, "proposed": True, "current_text": "enabled", "proposed_text": "disabled",
            "impact": handler.impact, "scope": "tenant", "reduces_exposure": True}, None, None, None, None, 0, 0,
            CREATED))
    return RequestView(request, tuple(steps), mailboxes={1: mailboxes})


def card(view, now=NOW):
    payload = plan_card(view, now=now)
    validate(payload)
    return payload


def test_the_pending_card_lists_the_first_mailboxes_the_impact_and_who_approved_so_far():
    text = joined(card(cleanup_view(300, approvals=("U0APPROVE",)))["blocks"])
    assert "SMTP AUTH clean-up: 300 mailboxes unused for 30 days" in text
    assert "Turn SMTP AUTH off for *300 mailboxes* that have it on but have not used it in 30 days" in text
    assert ":shield: *Security impact:* Reduces exposure" in text
    assert "`mailbox0@contoso.com` (enabled), `mailbox1@contoso.com` (inherits)" in text
    assert "`mailbox9@contoso.com`" in text and "`mailbox10@contoso.com`" not in text and "and 290 more" in text
    assert "Needs 2 different approvers: 1 of 2 approvals so far: <@U0APPROVE>" in text
    assert "Why OAuth?" not in text and "/smtp-enable" not in text
    assert clicks(card(cleanup_view(300))["blocks"]) == [(ids.ACTION_APPROVE, "1"), (ids.ACTION_DENY, "1")]


def test_while_applying_the_card_shows_progress():
    states = dict.fromkeys(range(118), M.OFF) | {118: M.FAILED, 119: M.FAILED} | dict.fromkeys(range(120, 170),
                                                                                                   M.WRITING)
    payload = card(cleanup_view(300, states, state=S.APPLYING))
    assert "Applying: 120 of 300 done (118 off, 2 failed so far)" in joined(payload["blocks"])
    assert clicks(payload["blocks"]) == []


def test_a_partial_failure_lists_each_failed_mailbox_with_why_and_offers_retry_failed_and_undo():
    states = dict.fromkeys(range(47), M.OFF) | {47: M.FAILED, 48: M.FAILED, 49: M.FAILED}
    payload = card(cleanup_view(50, states, state=S.VERIFIED, error="Set-CASMailbox: Internal Server Error"))
    text = joined(payload["blocks"])
    assert "*47 of 50 turned off* and verified" in text
    assert ("*3 failed:* `mailbox47@contoso.com` (Set-CASMailbox: Internal Server Error), `mailbox48@contoso.com`"
            in text)
    assert clicks(payload["blocks"]) == [(ids.ACTION_RETRY_FAILED, "1"), (ids.ACTION_UNDO, "1")]
    retry, undo = buttons(payload["blocks"])
    assert retry["text"]["text"] == "Retry 3 failed"
    assert "each mailbox's own prior value" in undo["confirm"]["text"]["text"]


def test_a_step_that_turned_nothing_off_offers_retry_and_an_undone_one_says_so():
    failed = card(cleanup_view(5, dict.fromkeys(range(5), M.FAILED), state=S.FAILED))
    assert clicks(failed["blocks"]) == [(ids.ACTION_RETRY, "1")]
    view = cleanup_view(5, dict.fromkeys(range(5), M.RESTORED), state=S.REVERTED)
    view = dataclasses.replace(view, steps=(dataclasses.replace(
        view.steps[0], undo_requested_by="U0REQUEST", undo_requested_at=NOW - timedelta(minutes=3),
        undo_decided_by="U0APPROVE", undo_decided_at=NOW - timedelta(minutes=2)),))
    text = joined(card(view)["blocks"])
    assert "Undone at" in text and "5 restored to their own prior value (inherits included)" in text
    assert (f"asked by <@U0REQUEST> at {local_time(NOW - timedelta(minutes=3))}, approved by <@U0APPROVE> at "
            f"{local_time(NOW - timedelta(minutes=2))}") in text


def test_the_org_switch_off_is_shown_as_a_second_step():
    text = joined(card(cleanup_view(3, org=True))["blocks"])
    assert "SMTP AUTH off for the whole organisation" in text and "organisation switch off is proposed too" in text


@pytest.mark.parametrize("count", [1, 10, 11, 1000, 10_000])
def test_every_size_stays_within_slacks_limits_even_with_long_reasons(count):
    states = {n: (M.FAILED if n % 2 else M.SKIPPED) for n in range(count)}
    for state in (S.PENDING, S.APPLYING, S.VERIFIED, S.FAILED):
        card(cleanup_view(count, states, state=state, error="x" * 900, org=True))


def test_an_expired_clean_up_says_to_run_the_report_and_close_unused_again_for_each_of_its_steps():
    view = cleanup_view(7, org=True)
    text = joined(card(view, now=view.request.expires_at + timedelta(minutes=1))["blocks"])
    again = "run `/smtp-readiness --days 30` and click Close unused on its card again"
    assert text.count(again) == 2  # the bulk step and the organisation switch
    assert "/smtp-enable" not in text
