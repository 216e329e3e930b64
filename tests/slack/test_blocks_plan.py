"""The plan card: every step state, its buttons, advisories, the footer, escaping and Slack's limits."""

from __future__ import annotations

import dataclasses
import re

import pytest
from blocks_helpers import (
    LATE,
    NOW,
    STATES,
    at,
    buttons,
    clicks,
    example_view,
    joined,
    mrkdwn,
    texts,
    validate,
    with_states,
)
from slack_sdk.models.blocks import ConfirmObject

from bot.slack import ids
from bot.slack.blocks import plan_card
from bot.workflow.model import RequestView
from handlers import REMEDIATIONS

A, D, ALL = ids.ACTION_APPROVE, ids.ACTION_DENY, ids.ACTION_APPROVE_ALL
EXPECTED = {
    "pending": [(A, "1"), (D, "1")],
    "approved": [],
    "applying": [],
    "applied": [],
    "verified": [(ids.ACTION_UNDO, "1")],
    "denied": [],
    "expired": [],
    "failed": [(ids.ACTION_RETRY, "1")],
    "revert_pending": [(ids.ACTION_UNDO_APPROVE, "1"), (ids.ACTION_UNDO_DENY, "1")],
    "reverting": [],
    "reverted": [],
}
STATUS = {
    "pending": "Impact:",
    "approved": f"Approved by <@U0APPROVE> at {at('2026-11-28 08:24:52')} — applying…",
    "applying": f"Approved by <@U0APPROVE> at {at('2026-11-28 08:24:52')} — applying…",
    "applied": f"Applied at {at('2026-11-28 08:25:52')} after approval by <@U0APPROVE> at {at('2026-11-28 08:24:52')} — verifying…",
    "verified": f"Applied and verified by the bot at {at('2026-11-28 08:25:52')} after approval by <@U0APPROVE> at {at('2026-11-28 08:24:52')}: "
                "disabled → enabled",
    "denied": f"Denied by <@U0APPROVE> at {at('2026-11-28 08:24:52')}",
    "expired": f"Expired at {at('2026-11-28 09:22:52')} — run `/smtp-enable erp@contoso.com` again",
    "failed": f":x: Failed at {at('2026-11-28 08:27:52')} after approval by <@U0APPROVE> at {at('2026-11-28 08:24:52')}: Exchange said: boom",
    "revert_pending": f"Undo requested by <@U0REQUEST> at {at('2026-11-28 08:26:52')} — waiting for an approver",
    "reverting": f"Undoing, asked by <@U0REQUEST> at {at('2026-11-28 08:26:52')}, approved by <@U0OTHER> at "
                 f"{at('2026-11-28 08:27:22')}…",
    "reverted": f"Undone at {at('2026-11-28 08:27:52')}, asked by <@U0REQUEST> at {at('2026-11-28 08:26:52')}, approved "
                f"by <@U0OTHER> at {at('2026-11-28 08:27:22')}: restored disabled",
}


def card(view, now=NOW):
    payload = plan_card(view, now=now)
    validate(payload)
    return payload


def test_example_card_reads_like_the_plan():
    payload = card(example_view())
    text = joined(payload["blocks"])
    assert payload["blocks"][0] == {"type": "header", "text": {
        "type": "plain_text", "text": "SMTP AUTH plan for erp@contoso.com", "emoji": True}}
    assert "*ERP Notifications* · password (Basic) · 2 changes needed" in text and "Basic auth ·" not in text
    assert text.index("1. SMTP AUTH for this mailbox*: disabled → enabled") < text.index(
        "2. Legacy per-user MFA*: enforced → disabled")
    assert (f"Applied and verified by the bot at {at('2026-11-28 08:22:52')} after approval by <@U0APPROVE> at {at('2026-11-28 08:22:52')}: "
            "disabled → enabled") in text
    assert clicks(payload["blocks"]) == [(ids.ACTION_UNDO, "1"), (A, "2"), (D, "2")]
    assert [b["block_id"] for b in buttons(payload["blocks"])] == ["step:1", "step:2", "step:2"]
    assert "1 waiting for approval" in payload["text"]


@pytest.mark.parametrize("state", STATES)
def test_each_state_shows_its_status_and_only_its_buttons(state):
    payload = card(with_states(state))
    assert clicks(payload["blocks"]) == EXPECTED[state]
    assert STATUS[state] in joined(payload["blocks"])
    assert ALL not in {a for a, _ in clicks(payload["blocks"])}


@pytest.mark.parametrize("state", STATES)
def test_next_to_a_pending_step_each_state_keeps_its_own_buttons(state):
    payload = card(with_states("pending", state))
    own = [(action, "2") for action, _ in EXPECTED[state]]
    all_button = [(ALL, "CR-49F7C2")] if state == "pending" else []
    assert clicks(payload["blocks"]) == [(A, "1"), (D, "1"), *own, *all_button]


@pytest.mark.parametrize("state", ["pending", "failed"])
def test_past_expiry_nothing_can_be_approved_or_retried(state):
    payload = card(with_states(state, "pending"), now=LATE)
    assert clicks(payload["blocks"]) == []
    text = joined(payload["blocks"])
    assert f"Expired at {at('2026-11-28 09:22:52')} — run `/smtp-enable erp@contoso.com` again" in text
    assert f"expired {at('2026-11-28 09:22:52')}" in text and "Approve before" not in text


def test_expiry_is_inclusive():
    view = with_states("pending")
    assert clicks(card(view, now=view.request.expires_at)["blocks"]) == []


def test_approve_confirm_states_the_change_and_its_impact():
    [approve, deny] = buttons(card(with_states("pending"))["blocks"])
    assert approve["style"] == "primary" and deny["style"] == "danger" and "confirm" not in deny
    dialog = approve["confirm"]["text"]["text"]
    assert dialog.startswith("SMTP AUTH for this mailbox: disabled → enabled. Impact: This mailbox only")
    assert dialog.endswith("from anywhere. See the card for the full impact.")
    longer = buttons(card(with_states("pending", "pending"))["blocks"])[2]["confirm"]["text"]["text"]
    assert longer == ("Legacy per-user MFA: enforced → disabled. Impact: This user only: their interactive sign-ins "
                      "no longer require MFA through the legacy per-user setting. See the card for the full impact.")


def _every_remediation(upn: str, value: str) -> RequestView:
    """One pending step per remediation, worded as the planner words them, for `upn` and current `value`."""
    view = with_states(*["pending"] * len(REMEDIATIONS), upn=upn)
    steps = tuple(dataclasses.replace(step, handler_key=key, title=handler.title, proposed={
        "current_text": value, "proposed_text": handler.display(handler.target_value), "impact": handler.impact,
        "scope": handler.scope}) for step, (key, handler) in zip(view.steps, REMEDIATIONS.items(), strict=True))
    return dataclasses.replace(view, steps=steps)


@pytest.mark.parametrize(("upn", "value"), [("erp@contoso.com", "enabled"),
                                            ("a" * 60 + "@" + "b" * 60 + ".com", "word " * 80)])
def test_every_confirm_fits_slacks_limit_and_ends_on_a_whole_word(upn, value):
    view = _every_remediation(upn, value)
    dialogs = [b["confirm"] for b in buttons(card(view)["blocks"]) if "confirm" in b]
    assert len(dialogs) == len(REMEDIATIONS) + 1  # each Approve, and Approve all
    for dialog in dialogs:
        ConfirmObject(**dialog).validate_json()
        text = dialog["text"]["text"]
        assert len(text) <= 300 and text.endswith("See the card for the full impact.")
        assert all(line.endswith((".", "?")) for line in text.splitlines())
        whole = set(re.findall(r"\w+", " ".join([upn, value, *(s.title for s in view.steps)])))
        assert set(re.findall(r"(\w+)…", text)) <= whole  # anything shortened ends on a whole word
    for step, dialog in zip(view.steps, dialogs, strict=False):
        assert dialog["text"]["text"].startswith(f"{step.title}: ")


def test_undo_confirm_says_it_restores_the_previous_value():
    [undo] = buttons(card(with_states("verified"))["blocks"])
    assert "restore the previous value of SMTP AUTH for this mailbox (disabled)" in undo["confirm"]["text"]["text"]


def test_approve_all_lists_every_impact_and_carries_the_request_id():
    payload = card(with_states("pending", "pending"))
    [approve_all] = [b for b in buttons(payload["blocks"]) if b["action_id"] == ALL]
    assert approve_all["value"] == "CR-49F7C2" and approve_all["block_id"] == "request:CR-49F7C2"
    dialog = approve_all["confirm"]["text"]["text"]
    assert "• SMTP AUTH for this mailbox: disabled → enabled. This mailbox only." in dialog
    assert "• Legacy per-user MFA: enforced → disabled. This user only." in dialog


def test_approve_all_needs_two_open_steps():
    assert ALL not in {a for a, _ in clicks(card(with_states("pending", "verified"))["blocks"])}
    assert clicks(card(with_states("pending", "pending"), now=LATE)["blocks"]) == []


def test_before_and_after_use_the_handlers_words_when_they_differ_from_the_plan():
    view = with_states("verified", "reverted")
    view = dataclasses.replace(view, steps=(dataclasses.replace(view.steps[0], before=None),
                                            dataclasses.replace(view.steps[1], handler_key="gone", before="weird")))
    text = joined(card(view)["blocks"])
    assert "not set (inherits the organisation) → enabled" in text
    assert "restored weird" in text


def test_a_failed_undo_is_shown_on_the_verified_step():
    view = with_states("verified")
    view = dataclasses.replace(view, steps=(
        dataclasses.replace(view.steps[0], error="Undo was sent but the old value did not come back."),))
    payload = card(view)
    assert ":warning: Undo was sent but the old value did not come back." in joined(payload["blocks"])
    assert clicks(payload["blocks"]) == [(ids.ACTION_UNDO, "1")]


def test_advisories_not_proposed_and_ok_settings():
    text = joined(card(example_view())["blocks"])
    assert ":warning: *Conditional Access*" in text and "Report-only policies" in text
    assert "What to do: Move the device or app to OAuth" in text
    assert "*Not proposed:*" in text and "SMTP AUTH for the whole organisation" in text
    assert "Already OK: Account and mailbox, Entra security defaults, Exchange authentication policy" in text


def test_not_applicable_settings_are_shown_as_such_and_never_as_ok():
    no_mailbox = {"key": "mailbox_smtp_auth", "title": "SMTP AUTH for this mailbox", "status": "n/a",
                  "summary": "The user has no Exchange Online mailbox."}
    plan = dict(example_view().plan, not_applicable=[no_mailbox])
    text = joined(card(with_states("pending", plan=plan))["blocks"])
    assert "Not applicable: SMTP AUTH for this mailbox (The user has no Exchange Online mailbox.)" in text
    assert "SMTP AUTH for this mailbox" not in text.split("Already OK:")[1].split("\n")[0]


MFA_DOCS = "https://learn.microsoft.com/entra/identity/authentication/howto-mfa-userstates"
HVE_DOCS = "https://learn.microsoft.com/exchange/mail-flow-best-practices/high-volume-mails-m365"


def test_each_step_and_advisory_links_its_microsoft_page():
    view = with_states("pending")
    step = dataclasses.replace(view.steps[0], proposed=dict(view.steps[0].proposed, docs=MFA_DOCS))
    advisory = {"key": "basic_auth_retirement", "title": "Basic authentication retirement", "status": "warn",
                "summary": "Keeps working through December 2026.", "docs": "https://techcommunity.microsoft.com/x",
                "advice": f"Otherwise plan for High Volume Email. High Volume Email: {HVE_DOCS} · relay: <b>"}
    plan = dict(view.plan, advisories=[advisory])
    view = dataclasses.replace(view, steps=(step,), request=dataclasses.replace(
        view.request, diagnosis=dict(view.request.diagnosis, plan=plan)))
    text = "\n".join(mrkdwn(card(view)["blocks"]))
    assert ":warning: *Impact:*" in text and f"\n:book: <{MFA_DOCS}|Microsoft docs>" in text
    assert f"High Volume Email: <{HVE_DOCS}|{HVE_DOCS}> · relay: &lt;b&gt;" in text
    assert ":book: <https://techcommunity.microsoft.com/x|Microsoft docs>" in text


def blocked_plan(view, steps=True):
    plan = dict(view.plan, blocked=True, healthy=False)
    plan["advisories"] = [{"key": "auth_policy", "title": "Exchange authentication policy", "status": "blocked",
                           "summary": "Policy 'No basic' blocks Basic SMTP.", "advice": "Ask an Exchange admin."},
                          {"key": "conditional_access", "title": "Conditional Access", "status": "unknown",
                           "summary": "Could not check: 403.", "advice": ""}, *plan["advisories"]]
    if not steps:
        plan["steps"] = []
    return plan


def test_blocked_advisories_come_first_and_are_marked():
    view = with_states("pending", plan=blocked_plan(example_view()))
    text = joined(card(view)["blocks"])
    assert ":no_entry: *Also blocking — the bot cannot change this: Exchange authentication policy*" in text
    assert text.index("Also blocking") < text.index(":warning: *Conditional Access*")
    assert ":grey_question: *Conditional Access* (could not be checked)" in text


def test_a_blocked_plan_says_the_changes_are_not_enough_and_offers_only_apply_anyway():
    view = with_states("pending", "pending", plan=blocked_plan(example_view()))
    payload = card(view)
    text = joined(payload["blocks"])
    assert ("· :no_entry: *The proposed changes will not be enough*: Exchange authentication policy also blocks "
            "SMTP AUTH, and the bot cannot change it (see below).") in text
    assert "Not offered for approval" in text
    request_id = view.request.id
    # Conditional Access could not be read: Diagnose again is offered besides.
    assert clicks(payload["blocks"]) == [(ids.ACTION_APPLY_ANYWAY, request_id), (ids.ACTION_DIAGNOSE_AGAIN, request_id)]
    [block] = [b for b in payload["blocks"] if b.get("block_id") == ids.anyway_block_id(request_id)]
    assert "recorded in the audit log" in str(block["elements"][0]["confirm"])
    assert "waiting for approval" not in payload["text"]


def test_after_apply_anyway_each_step_is_offered_for_approval_again_and_the_card_says_who_chose():
    view = with_states("pending", "pending", plan=blocked_plan(example_view()))
    view = dataclasses.replace(view, request=dataclasses.replace(view.request, applied_anyway_by="U0APPROVER",
                                                                 applied_anyway_at=NOW))
    payload = card(view)
    text = joined(payload["blocks"])
    assert "*The proposed changes will not be enough*" in text
    assert f"<@U0APPROVER> chose to apply them anyway at {at(NOW.strftime('%Y-%m-%d %H:%M:%S'))}" in text
    assert [a for a, _ in clicks(payload["blocks"])] == [ids.ACTION_APPROVE, ids.ACTION_DENY, ids.ACTION_APPROVE,
                                                        ids.ACTION_DENY, ids.ACTION_APPROVE_ALL,
                                                        ids.ACTION_DIAGNOSE_AGAIN]


def test_no_steps_blocked():
    view = with_states(plan=blocked_plan(example_view(), steps=False))
    payload = card(view)
    text = joined(payload["blocks"])
    assert "Blocked by something the bot cannot change" in text
    assert ":no_entry: *Blocking — the bot cannot change this: Exchange authentication policy*" in text
    request_id = view.request.id  # Conditional Access could not be read
    assert clicks(payload["blocks"]) == [(ids.ACTION_DIAGNOSE_AGAIN, request_id)] and "Approve before" not in text


def test_no_steps_healthy():
    plan = dict(example_view().plan, steps=[], advisories=[], not_proposed=[], healthy=True)
    payload = card(with_states(plan=plan))
    assert "Nothing to change" in joined(payload["blocks"]) and "nothing to change" in payload["text"]
    assert clicks(payload["blocks"]) == []


def test_error_plan_shows_the_error():
    plan = {"upn": "erp@contoso.com", "error": "No user 'erp@contoso.com' in this tenant.", "steps": []}
    payload = card(with_states(plan=plan))
    assert ":x: No user 'erp@contoso.com' in this tenant." in joined(payload["blocks"])
    assert "diagnosis failed" in payload["text"]


def test_footer_names_the_request_the_requester_and_the_deadline():
    footer = card(example_view())["blocks"][-1]
    assert footer["type"] == "context"
    assert footer["elements"][0]["text"] == f"CR-49F7C2 · requested by <@U0REQUEST> · Approve before {at('2026-11-28 09:22:52')}"
    assert "Why OAuth?" in footer["elements"][1]["text"]


def test_no_oauth_hint_when_the_plan_was_for_oauth():
    view = with_states("pending", options={"auth_mode": "oauth", "include_org": False})
    payload = card(view)
    text = joined(payload["blocks"])
    assert "Why OAuth" not in text and "*ERP Notifications* · OAuth (XOAUTH2) · 1 change needed" in text
    assert " auth ·" not in text


def test_deadline_shows_the_day_when_it_is_not_today():
    payload = card(with_states("pending"), now=NOW.replace(day=27))
    assert f"Approve before {at('2026-11-28 09:22:52')}" in joined(payload["blocks"])


HOSTILE = "<script>alert(1)</script> & <!channel> <@U0EVIL> <https://evil.example|click>"


def test_user_provided_text_is_escaped_but_the_bots_mentions_are_kept():
    view = with_states("failed", "pending", upn="x<y>@contoso.com")
    view = dataclasses.replace(view, steps=(
        dataclasses.replace(view.steps[0], error=HOSTILE, title=HOSTILE),
        dataclasses.replace(view.steps[1], proposed=dict(view.steps[1].proposed, reason=HOSTILE, current_text=HOSTILE)),
    ))
    plan = dict(view.plan)
    plan["advisories"] = [dict(plan["advisories"][0], title=HOSTILE, summary=HOSTILE, advice=HOSTILE)]
    view = dataclasses.replace(view, request=dataclasses.replace(
        view.request, diagnosis=dict(view.request.diagnosis, plan=plan)))
    payload = card(view)  # the validator rejects any < or > the bot did not mean
    text = "\n".join(mrkdwn(payload["blocks"]))
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;!channel&gt; &lt;@U0EVIL&gt;" in text
    assert "<@U0REQUEST>" in text and "<script>" not in text and "<!channel>" not in text
    assert "<script>alert(1)</script>" in buttons(payload["blocks"])[1]["confirm"]["text"]["text"]
    assert "x&lt;y&gt;@contoso.com" in payload["text"]


def pathological_view(steps=30):
    long = "Exchange refused: " + "&<>" * 3000
    view = with_states(*(STATES[n % len(STATES)] for n in range(steps)), upn="a" * 64 + "@" + "b" * 180 + ".com")
    view = dataclasses.replace(view, steps=tuple(dataclasses.replace(s, error=long, title="T" * 400, proposed=dict(
        s.proposed, reason=long, impact=long, current_text=long, proposed_text=long)) for s in view.steps))
    huge = {"title": "Huge " * 200, "status": "blocked", "summary": long, "advice": long}
    plan = dict(view.plan, blocked=True, advisories=[huge] * 40, ok=[{"title": "ok " * 100}] * 50,
                not_proposed=[{"finding": {"title": long}, "why": long}] * 30)
    return dataclasses.replace(view, request=dataclasses.replace(
        view.request, diagnosis=dict(view.request.diagnosis, plan=plan), applied_anyway_by="U0APPROVE"))


def test_a_pathological_plan_stays_within_slacks_limits():
    view = pathological_view()
    held = card(dataclasses.replace(view, request=dataclasses.replace(view.request, applied_anyway_by=None)))
    assert (ids.ACTION_APPLY_ANYWAY, "CR-49F7C2") in clicks(held["blocks"])
    payload = card(pathological_view())
    text = joined(payload["blocks"])
    assert "more steps; Approve all covers the pending ones" in text
    assert "more notes not shown" in text
    assert payload["blocks"][-1]["elements"][0]["text"].startswith("CR-49F7C2 · requested by <@U0REQUEST>")
    assert (ALL, "CR-49F7C2") in clicks(payload["blocks"])


@pytest.mark.parametrize("steps", [1, 2, 4, 8, 12, 20])
def test_every_size_of_plan_validates(steps):
    card(pathological_view(steps))
    card(with_states(*["pending"] * steps))


def test_a_request_still_diagnosing_is_never_shown_as_nothing_to_change():
    view = with_states(plan={}, state="diagnosing")
    payload = card(view)
    text = joined(payload["blocks"])
    assert "Diagnosing" in text and "Nothing to change" not in text and clicks(payload["blocks"]) == []


DEVICE = {"host": "smtp.office365.us", "port": 587, "security": "STARTTLS", "username": "scanner@contoso.com",
          "auth": "XOAUTH2 (OAuth 2.0 client credentials)", "tenant_id": "8f3c2a10-5b7e-4d21-9a6c-3e1f0c7d5b42",
          "client_id": "3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809",
          "token_endpoint": "https://login.microsoftonline.us/8f3c2a10-5b7e-4d21-9a6c-3e1f0c7d5b42/oauth2/v2.0/token",
          "scope": "https://outlook.office365.us/.default"}


def test_an_onboarding_card_is_titled_as_such_and_ends_with_what_the_device_needs():
    base = with_states("pending", "pending")
    plan = {**base.plan, "device": DEVICE}
    options = {"auth_mode": "oauth", "include_org": False, "app_id": DEVICE["client_id"], "route": "scoped"}
    view = with_states("pending", "pending", plan=plan, options=options)
    payload = plan_card(view, now=NOW)
    validate(payload)
    blocks = payload["blocks"]
    assert texts(blocks[0])[0] == f"SMTP OAuth onboarding for {view.request.upn}"
    device = "\n".join(texts(blocks[-2]))  # just above the footer
    assert "What the device needs" in device and "`smtp.office365.us`, port `587`, STARTTLS" in device
    assert f"client id `{DEVICE['client_id']}`" in device and f"Tenant id `{DEVICE['tenant_id']}`" in device
    assert "scope `https://outlook.office365.us/.default`" in device and "the bot never sees it" in device
    assert "Why OAuth?" not in "\n".join(texts(blocks[-1]))


def test_a_basic_card_has_no_device_section():
    blocks = plan_card(with_states("pending"), now=NOW)["blocks"]
    assert not any("What the device needs" in t for t in texts(blocks))
    assert texts(blocks[0])[0].startswith("SMTP AUTH plan for ")


def test_the_onboarding_probe_shows_what_the_bot_saw_and_expiry_names_the_onboarding_command():
    base = with_states("verified")
    options = {"auth_mode": "oauth", "include_org": False, "app_id": DEVICE["client_id"], "route": "scoped"}
    view = with_states("verified", plan={**base.plan, "device": DEVICE}, options=options)
    refused = {"probe_target": "scanner-oauth", "ok": False, "reply": "535 5.7.3 Authentication unsuccessful",
               "at": NOW}
    text = "\n".join(texts(plan_card(dataclasses.replace(view, probe=refused), now=NOW)["blocks"]))
    assert "*XOAUTH2 probe* `scanner-oauth` with the device's app at" in text
    assert ":x: refused — 535 5.7.3 Authentication unsuccessful" in text
    assert "XOAUTH2 probe" not in "\n".join(texts(plan_card(view, now=NOW)["blocks"]))  # never claimed unseen
    pending = with_states("pending", plan={**base.plan, "device": DEVICE}, options=options)
    late = "\n".join(texts(plan_card(pending, now=LATE)["blocks"]))
    assert f"run `/smtp-oauth {pending.request.upn} --app {DEVICE['client_id']}` again" in late


UNDO_ASKED = f"Undo asked by <@U0REQUEST> at {at('2026-11-28 08:26:52')}"


@pytest.mark.parametrize(("decided_by", "approvals", "said"), [
    (None, None, f":clock3: {UNDO_ASKED} expired without a decision"),
    ("U0OTHER", None, f":no_entry_sign: {UNDO_ASKED} was denied by <@U0OTHER> at {at('2026-11-28 08:27:22')}"),
    ("U0OTHER", ("U0OTHER",), f":x: {UNDO_ASKED}, approved by <@U0OTHER> at {at('2026-11-28 08:27:22')}, failed"),
])
def test_a_step_back_at_verified_says_who_asked_for_the_undo_and_who_decided_it_when(decided_by, approvals, said):
    [step] = with_states("reverted").steps  # the undo's who and when, then back at verified
    step = dataclasses.replace(step, state="verified", undo_decided_by=decided_by, approvals=approvals,
                               undo_decided_at=step.undo_decided_at if decided_by else None)
    view = dataclasses.replace(example_view(), steps=(step,))
    payload = card(view)
    assert said in joined(payload["blocks"])
    assert clicks(payload["blocks"])[-1] == (ids.ACTION_UNDO, "1")  # it can be asked for again
    plain = with_states("verified")
    assert "Undo asked" not in joined(card(plain)["blocks"])  # no undo asked: nothing to say
