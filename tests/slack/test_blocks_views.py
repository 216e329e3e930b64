"""/smtp-status, App Home, /smtp-explain and the short replies; the limit validator over every builder."""

from __future__ import annotations

import copy
import dataclasses
from datetime import timedelta

import pytest
from blocks_helpers import (
    CREATED,
    LATE,
    NOW,
    STATES,
    at,
    clicks,
    example_view,
    joined,
    mrkdwn,
    validate,
    with_states,
)

from bot.diagnosis import SAMPLES, explain
from bot.slack import ids
from bot.slack.blocks import (
    USAGE,
    error_blocks,
    explain_blocks,
    home_view,
    plan_card,
    refusal_text,
    status_blocks,
    usage_text,
)

HOSTILE = "<script>alert(1)</script> & <!here>"
OK_PROBE = {"target": "scanner", "mailbox": "scanner@contoso.com", "ok": True, "cause": "ok",
            "at": CREATED, "latency_ms": 412, "cert_days_left": 54, "auth_mode": "basic", "reply": None}
FAILING_PROBE = {"target": "erp", "mailbox": "erp@contoso.com", "ok": False, "cause": "smtp_auth_disabled_mailbox",
                 "at": CREATED - timedelta(days=1), "latency_ms": 380, "cert_days_left": None, "auth_mode": "basic",
                 "reply": "535 5.7.139 Authentication unsuccessful " + HOSTILE}


def other_request(view, n=1, requester="U0OTHER"):
    """A copy of `view` as another request (CR-00000n, step ids n*100+...), as the store would hold it."""
    request = dataclasses.replace(view.request, id=f"CR-{n:06d}", requester=requester, upn="copier@contoso.com")
    steps = [dataclasses.replace(s, request_id=request.id, id=n * 100 + s.id) for s in view.steps]
    return dataclasses.replace(view, request=request, steps=steps)


# /smtp-status ----------------------------------------------------------------------------------------
def test_status_lists_requests_with_compact_step_states_and_probes():
    payload = status_blocks([example_view(), other_request(with_states("failed"))], [OK_PROBE, FAILING_PROBE],
                            now=NOW, upn="erp@contoso.com")
    validate(payload)
    text = joined(payload["blocks"])
    assert payload["blocks"][0]["text"]["text"] == "SMTP AUTH status for erp@contoso.com"
    assert f"*CR-49F7C2* · erp@contoso.com · requested by <@U0REQUEST> · approve before {at('2026-11-28 09:22:52')}" in text
    assert "1. SMTP AUTH for this mailbox — :white_check_mark: applied and verified" in text
    assert "2. Legacy per-user MFA — :hourglass_flowing_sand: waiting for approval" in text
    assert "1. SMTP AUTH for this mailbox — :x: failed" in text
    assert (f":white_check_mark: *scanner (scanner@contoso.com)* ok · {at('2026-11-28 08:22:52')} · 412 ms · certificate expires in "
            "54 days · password (Basic)") in text
    assert f":x: *erp (erp@contoso.com)* failing: smtp_auth_disabled_mailbox · {at('2026-11-27 08:22:52')} · 380 ms" in text
    assert "Reply: 535 5.7.139 Authentication unsuccessful &lt;script&gt;" in text
    assert clicks(payload["blocks"]) == []
    assert payload["text"] == "SMTP AUTH status for erp@contoso.com: 2 open requests, 1 of 2 probes failing"


def test_status_after_expiry_and_with_nothing_to_show():
    late = joined(status_blocks([example_view()], None, now=LATE)["blocks"])
    assert "2. Legacy per-user MFA — :clock3: expired" in late and "approve before" not in late
    assert "Last probe results" not in late
    empty = status_blocks([], [], now=NOW)
    validate(empty)
    assert "No open change requests." in joined(empty["blocks"]) and "No probe results yet." in joined(empty["blocks"])


def test_status_with_too_much_to_show_says_how_much_is_left_out():
    payload = status_blocks([with_states(*STATES)] * 40, [FAILING_PROBE] * 40, now=NOW)
    validate(payload)
    text = joined(payload["blocks"])
    assert "more requests._" in text and "more probes._" in text


# App Home --------------------------------------------------------------------------------------------
def home(**kwargs):
    args = {"viewer": "U0APPROVE", "pending": [example_view()], "recent": [example_view()], "probes": [OK_PROBE],
            "is_approver": True, "now": NOW} | kwargs
    payload = home_view(**args)
    validate(payload, view=True)
    return payload


def test_home_offers_the_approvers_the_cards_buttons():
    payload = home()
    assert clicks(payload["blocks"]) == [(ids.ACTION_APPROVE, "2"), (ids.ACTION_DENY, "2")]
    approve = [b for b in payload["blocks"] if b["type"] == "actions"][0]
    assert approve["block_id"] == "step:2" and "Impact" in approve["elements"][0]["confirm"]["text"]["text"]
    text = joined(payload["blocks"])
    for title in ("Waiting for your approval", "Recent requests", "Probe status"):
        assert title in text
    assert "*Legacy per-user MFA*: enforced → disabled" in text and ":white_check_mark: *scanner" in text


def test_home_hides_the_buttons_of_the_viewers_own_requests_unless_self_approval():
    own = home(viewer="U0REQUEST")
    assert clicks(own["blocks"]) == []
    assert "Your requests, waiting for another approver" in joined(own["blocks"])
    assert clicks(home(viewer="U0REQUEST", allow_self_approval=True)["blocks"]) == [
        (ids.ACTION_APPROVE, "2"), (ids.ACTION_DENY, "2")]


def test_home_for_someone_who_is_not_an_approver():
    payload = home(viewer="U0REQUEST", is_approver=False)
    assert clicks(payload["blocks"]) == []
    assert "Only the configured approvers can approve changes." in joined(payload["blocks"])


def test_home_offers_undo_decisions_and_skips_expired_steps():
    payload = home(pending=[with_states("revert_pending", "pending")], now=LATE)
    assert clicks(payload["blocks"]) == [(ids.ACTION_UNDO_APPROVE, "1"), (ids.ACTION_UNDO_DENY, "1")]
    assert f"Undo requested by <@U0REQUEST> at {at('2026-11-28 08:26:52')} — waiting for an approver" in joined(payload["blocks"])


def test_home_with_nothing_waiting():
    text = joined(home(pending=[], recent=[], probes=[])["blocks"])
    assert "Nothing is waiting for your approval." in text
    assert "No requests yet." in text and "No probe results yet." in text


def test_home_with_a_flood_of_pending_steps_stays_within_the_view_limit():
    flood = [other_request(with_states("pending", "pending"), n) for n in range(60)]
    payload = home(pending=flood, recent=flood, probes=[FAILING_PROBE] * 60)
    assert "more changes waiting; see the plan cards" in joined(payload["blocks"])


# /smtp-explain ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.cause)
def test_every_sample_reply_explains_within_limits(sample):
    validate(explain_blocks(explain(sample.reply)))


def test_explain_shows_cause_reply_meaning_advice_and_steps():
    payload = explain_blocks(explain(SAMPLES[3].reply), upn="erp@contoso.com")
    validate(payload)
    text = joined(payload["blocks"])
    assert payload["blocks"][0]["text"]["text"] == "SMTP AUTH is turned off for this mailbox"
    assert "Cause: `smtp_auth_disabled_mailbox`" in text
    assert "*Reply:* 535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox" in text
    assert "*What it means:*" in text and "*What to do:*" in text
    assert "1. enable SMTP AUTH on the mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $false)" in text
    assert "<https://aka.ms/smtp_auth_disabled|Microsoft docs>" in text
    assert "Run `/smtp-enable erp@contoso.com` to diagnose the mailbox" in text


def test_explain_unclassified_shows_the_raw_reply_escaped():
    payload = explain_blocks(explain("421 something odd " + HOSTILE))
    validate(payload)
    text = "\n".join(mrkdwn(payload["blocks"]))
    assert "*Raw reply:*" in text and "&lt;script&gt;" in text and "<!here>" not in text
    assert "Run `/smtp-enable UPN`" in text


# Short replies ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", sorted(USAGE))
def test_usage_says_what_to_type_with_an_example(command):
    usage = usage_text(command)
    assert usage.startswith(f"Type `{command}") and f"Example: `{command} " in usage


def test_usage_of_an_unknown_command_lists_them_all():
    assert all(f"`{command}" in usage_text("/smtp-nope") for command in USAGE)
    assert "`/smtp-enable UPN [--org] [--oauth]`" in usage_text("/smtp-enable")


def test_refusal_escapes_but_keeps_the_bots_mentions():
    assert refusal_text("Already decided by <@U0APPROVE> & co <!channel>") == (
        ":no_entry: Already decided by <@U0APPROVE> &amp; co &lt;!channel&gt;")


def test_error_blocks():
    payload = error_blocks("No user 'x' " + HOSTILE, "Check the spelling.")
    validate(payload)
    assert payload["blocks"][0]["text"]["text"] == ":x: No user 'x' &lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;!here&gt;"
    assert payload["blocks"][1]["elements"][0]["text"] == "Check the spelling."
    assert len(error_blocks("x" * 10_000)["blocks"]) == 1


# The validator ---------------------------------------------------------------------------------------
def huge_explanation():
    d = explain("550 5.7.1 " + "&<>" * 5000)
    return d | {key: d[key] or "x" for key in ("suffix", "docs")} | {
        "title": "T" * 500, "explanation": "E&" * 5000, "advice": "A<" * 5000, "steps": ["x" * 900] * 30,
        "checks": ["y" * 900] * 30}


BUILDERS = {
    "plan_card": lambda: plan_card(with_states(*STATES * 3), now=NOW),
    "status": lambda: status_blocks([with_states(*STATES * 3)] * 30, [FAILING_PROBE | {"reply": "r" * 9000}] * 30,
                                    now=NOW),
    "explain": lambda: explain_blocks(huge_explanation(), upn="u" * 300),
    "error": lambda: error_blocks("&" * 9000, "<" * 9000),
}


@pytest.mark.parametrize("name", BUILDERS)
def test_every_builder_stays_within_limits_on_pathological_input(name):
    validate(BUILDERS[name]())


def test_home_stays_within_limits_on_pathological_input():
    views = [other_request(with_states(*STATES * 3), n) for n in range(30)]
    mine = [other_request(with_states(*STATES * 3), n, requester="U0APPROVE") for n in range(30, 60)]
    payload = home(pending=views + mine, recent=views, probes=[FAILING_PROBE] * 40)
    text = joined(payload["blocks"])
    assert all(f"more {what}" in text for what in ("changes waiting", "requests", "probes"))


def broken(change):
    payload = copy.deepcopy(plan_card(example_view(), now=NOW))
    change(payload["blocks"])
    return payload


def _first(blocks, kind):
    return next(b for b in blocks if b["type"] == kind)


@pytest.mark.parametrize("change", [
    lambda b: b.extend([{"type": "divider"}] * 40),
    lambda b: _first(b, "section")["text"].update(text="x" * 3001),
    lambda b: _first(b, "section")["text"].update(text="hi <!channel>"),
    lambda b: _first(b, "section")["text"].update(text="fish & chips"),
    lambda b: _first(b, "actions")["elements"][0]["text"].update(text="x" * 76),
    lambda b: _first(b, "actions")["elements"][0]["confirm"]["text"].update(text="x" * 301),
    lambda b: _first(b, "actions")["elements"][0].update(action_id="nobody_listens"),
    lambda b: _first(b, "actions").update(block_id="step:2", elements=[_first(b, "actions")["elements"][0]] * 2),
    lambda b: b.append(dict(_first(b, "actions"))),
    lambda b: _first(b, "header")["text"].update(text="x" * 151),
], ids=["51 blocks", "long section", "channel ping", "bare ampersand", "long button", "long confirm",
        "unknown action", "duplicate action id", "duplicate block id", "long header"])
def test_the_validator_catches_broken_blocks(change):
    with pytest.raises(AssertionError):
        validate(broken(change))
