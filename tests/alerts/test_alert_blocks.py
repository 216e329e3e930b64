"""The alert card and its thread replies: content, buttons, variants and Slack's limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from alert_helpers import BAD_PASSWORD, DISABLED, MAILBOX, TARGET, Run
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.alerts import AlertPolicy, card_update, snooze
from bot.diagnosis import STEP_LABELS, explain
from bot.slack import ids
from bot.slack.alert_blocks import alert_card, flapping_text, recovery_text, reminder_text, stable_text
from bot.slack.text import render
from tests.slack.blocks_helpers import at, buttons, clicks, joined, validate

EXPLAINED = explain(DISABLED)


def incident(pattern: str = "FFF", **policy) -> Run:
    run = Run(AlertPolicy(remind_every=timedelta(minutes=10), **policy))
    run.feed(pattern)
    return run


def test_the_open_card_says_what_failed_why_and_how_to_fix_it():
    run = incident("FF")
    opened = run.sent[0]
    card = alert_card(opened, explanation=EXPLAINED, now=run.clock.now())
    validate(card)
    text = joined(card["blocks"])
    assert "SMTP AUTH failing: scanner" in text and f"*scanner* · {MAILBOX}" in text
    assert f"*Server reply* in `auth`:\n```{DISABLED}```" in text
    assert EXPLAINED["title"] in text and EXPLAINED["explanation"][:60] in text
    assert EXPLAINED["advice"][:60] in text
    assert all(STEP_LABELS[key] in text for key in EXPLAINED["steps"])
    assert f":x: Failed 2 times since {at('2026-11-28 09:00')}, last at {at('2026-11-28 09:05')}." in text
    assert f"Incident {opened.incident_id}" in text
    assert card["text"].startswith("SMTP AUTH failing for scanner (scanner@contoso.com): SMTP AUTH is turned off")
    # Snooze carries the incident and cause the card shows: a click after they changed is refused.
    value = f'{{"target":"{TARGET}","incident":"{opened.incident_id}","cause":"{opened.cause}"}}'
    assert value == ids.alert_value(TARGET, opened.incident_id, opened.cause) and opened.cause
    assert ids.parse_alert_value(value) == (TARGET, opened.incident_id, opened.cause)
    assert clicks(card["blocks"]) == [(ids.ACTION_ALERT_FIX, MAILBOX), (ids.ACTION_ALERT_PROBE, TARGET),
                                      ("alert_snooze_1h", value), ("alert_snooze_4h", value),
                                      (ids.ACTION_ALERT_SNOOZE, value)]
    fix, probe, *snoozes = buttons(card["blocks"])
    assert fix["style"] == "primary" and "confirm" not in fix and "style" not in probe
    assert [b["text"]["text"] for b in snoozes] == ["Snooze 1 h", "Snooze 4 h", "Snooze 24 h"]
    assert snoozes[1]["confirm"]["title"]["text"] == "Snooze for 4 h?"
    assert "for this incident and cause only" in snoozes[1]["confirm"]["text"]["text"]


def test_the_console_reads_the_card_with_its_buttons():
    run = incident("FF")
    text, found = render(alert_card(run.sent[0], explanation=EXPLAINED, now=run.clock.now())["blocks"])
    assert "❌ Failed 2 times" in text
    value = ids.alert_value(TARGET, run.sent[0].incident_id, run.sent[0].cause)
    assert [(b.text, b.action_id, b.value) for b in found] == [
        ("Fix", ids.ACTION_ALERT_FIX, MAILBOX), ("Probe now", ids.ACTION_ALERT_PROBE, TARGET),
        ("Snooze 1 h", "alert_snooze_1h", value), ("Snooze 4 h", "alert_snooze_4h", value),
        ("Snooze 24 h", ids.ACTION_ALERT_SNOOZE, value)]


def test_an_update_shows_the_count_and_a_changed_cause():
    run = incident("FFF")
    update, remind = run.probe(False, cause="bad_credentials", reply=BAD_PASSWORD)
    assert (update.kind, update.reason, remind.kind, remind.reason) == ("update", "cause_changed", "remind", None)
    card = alert_card(update, explanation=explain(BAD_PASSWORD), now=run.clock.now(), snooze_hours=8)
    validate(card)
    text = joined(card["blocks"])
    assert f":x: Failed 4 times since {at('2026-11-28 09:00')}, last at {at('2026-11-28 09:15')}." in text
    assert "Cause changed from `smtp_auth_disabled_tenant` to `bad_credentials`." in text
    assert f"```{BAD_PASSWORD}```" in text and "Snooze 4 h" in text and "Snooze 24 h" not in text


def test_the_recovered_card_has_no_fix_or_snooze():
    run = incident("FFFFP")
    recovered = run.sent[-1]
    assert recovered.kind == "recover"
    card = alert_card(recovered, explanation=EXPLAINED, now=run.clock.now())
    validate(card)
    text = joined(card["blocks"])
    assert f":white_check_mark: Recovered at {at('2026-11-28 09:20')}, failed 4 times over 20 min." in text
    assert "SMTP AUTH recovered: scanner" in text and "*Fix:*" not in text
    assert f"*Last server reply*:\n```{DISABLED}```" in text and f"*Last cause:* {EXPLAINED['title']}" in text
    assert EXPLAINED["explanation"][:60] not in text
    assert clicks(card["blocks"]) == [(ids.ACTION_ALERT_PROBE, TARGET)]


def test_the_snoozed_card_says_who_and_until_when_and_offers_unsnooze():
    run = incident("FF")
    now = run.clock.now()
    redraw = card_update(snooze(run.state, now + timedelta(hours=24), by="U0APPROVER"), mailbox=MAILBOX, at=now)
    card = alert_card(redraw, explanation=EXPLAINED, now=now)
    validate(card)
    assert f":clock3: Snoozed by <@U0APPROVER> until {at('2026-11-29 09:10')}" in joined(card["blocks"])
    assert clicks(card["blocks"]) == [(ids.ACTION_ALERT_FIX, MAILBOX), (ids.ACTION_ALERT_PROBE, TARGET),
                                      (ids.ACTION_ALERT_UNSNOOZE, ids.alert_value(TARGET, run.state.incident_id,
                                                                                  run.state.last_cause))]
    later = alert_card(redraw, explanation=EXPLAINED, now=now + timedelta(hours=25))
    assert "Snoozed" not in joined(later["blocks"]) and len(clicks(later["blocks"])) == 5


def test_the_flapping_card_and_announcement():
    run = incident("FF" + "PF" * 4, successes_before_recovery=3)
    flapping = next(a for a in run.sent if a.kind == "flapping")
    now = run.clock.now()
    card = alert_card(flapping, explanation=EXPLAINED, now=now)
    validate(card)
    assert "SMTP AUTH flapping: scanner" in joined(card["blocks"])
    assert ":warning: Flapping: the result changed 7 times in the last 9 probes." in joined(card["blocks"])
    note = flapping_text(flapping, now=now)
    validate(note)
    assert note["text"].startswith(":warning: *scanner* (scanner@contoso.com) is flapping: the probe result changed 7")


def test_thread_replies():
    run = incident("FF" + "F" * 2)
    reminder = next(a for a in run.sent if a.kind == "remind")
    now = run.clock.now()
    text = reminder_text(reminder, now=now)
    assert text["text"].startswith(":clock3: *scanner* is still failing: 4 times since 2026-11-28 09:00 UTC (15 min). "
                                   "Last reply: `535 5.7.139 Authentication unsuccessful")
    assert f"`/smtp-enable {MAILBOX}`" in text["blocks"][0]["text"]["text"]
    run.feed("P")
    recovered = recovery_text(run.sent[-1], now=run.clock.now())
    assert recovered["text"] == (":white_check_mark: *scanner* (scanner@contoso.com) recovered at 2026-11-28 09:20 UTC: it "
                                 "failed 4 times over 20 min, last with `smtp_auth_disabled_tenant`.")
    assert f"recovered at {at('2026-11-28 09:20')}: it" in recovered["blocks"][0]["text"]["text"]
    for message in (text, recovered):
        validate(message)


@pytest.mark.parametrize(("tail", "words"), [("P" * 30, "the last probe passed"),
                                              ("F" * 30, "it is failing (")])
def test_the_stable_note(tail, words):
    run = incident("FF" + "PF" * 4 + tail, successes_before_recovery=40)
    note = next(a for a in run.sent if a.kind == "stable")
    message = stable_text(note, now=run.clock.now())
    validate(message)
    assert "has stopped flapping" in message["text"] and words in message["text"]


def test_a_probe_cause_without_a_catalogue_entry_is_said_in_plain_words():
    run = Run(AlertPolicy(remind_every=None))
    run.probe(False, cause="timeout", reply="no greeting in 20 s")
    run.probe(False, cause="timeout", reply="no greeting in 20 s")
    card = alert_card(run.sent[0], explanation=explain("no greeting in 20 s"), now=run.clock.now())
    validate(card)
    text = joined(card["blocks"])
    assert "*Cause:* The server did not answer in time." in text
    assert "*Fix:* click *Fix* to diagnose the mailbox" in text and "Reply not recognised" not in text


def test_long_and_hostile_replies_stay_within_slack_limits():
    reply = "535 5.7.3 <!channel> <@U0ADMIN> & ```" + "x" * 20_000
    run = Run(AlertPolicy(remind_every=timedelta(minutes=5)))
    run.feed("FFF", cause="c" * 500, reply=reply)
    run.feed("P")
    long_explanation = dict(explain(reply), title="T" * 500, explanation="E" * 5000, advice="A" * 5000,
                            steps=list(STEP_LABELS) * 10, cause="weird")
    for action in run.sent:
        for message in (alert_card(action, explanation=long_explanation, now=run.clock.now()),
                        reminder_text(action, now=run.clock.now()), recovery_text(action, now=run.clock.now())):
            validate(message)
            assert "<!channel>" not in joined(message["blocks"])
        assert "&lt;!channel&gt;" in joined(alert_card(action, explanation=long_explanation, now=run.clock.now()))


@settings(max_examples=40, deadline=None)
@given(target=st.text(min_size=1, max_size=60), mailbox=st.text(min_size=1, max_size=300),
       reply=st.text(max_size=4000), cause=st.text(max_size=200))
def test_any_text_renders_a_valid_card(target, mailbox, reply, cause):
    run = Run(AlertPolicy(remind_every=None))
    run.feed("FFF", cause=cause, reply=reply)
    run.feed("P")
    for action in run.sent:
        action = replace(action, target=target, mailbox=mailbox)
        validate(alert_card(action, explanation=explain(reply), now=run.clock.now()))
        validate(flapping_text(replace(action, changes=7, probes=21), now=run.clock.now()))


def test_the_card_links_the_plans_its_fix_started_newest_first_within_limits():
    run = incident()
    opened = run.sent[0]
    url = "https://contoso.slack.com/archives/C0ALERTS/p1796216885022803?thread_ts=1796216884.420432&cid=C0ALERTS"
    plans = [(f"CR-{n:06d}", "U0REQUEST", url) for n in range(8)] + [("CR-NOTYET", "U0OTHER", None)]
    card = alert_card(opened, explanation=EXPLAINED, now=run.clock.now(), plans=plans)
    validate(card)
    text = joined(card["blocks"])
    assert (":clipboard: Fix plans in the thread: <https://contoso.slack.com/archives/C0ALERTS/p1796216885022803"
            "?thread_ts=1796216884.420432&amp;cid=C0ALERTS|CR-000000> by <@U0REQUEST>") in text
    assert "CR-000004" in text and "CR-000005" not in text  # five at most
    one = joined(alert_card(opened, explanation=EXPLAINED, now=run.clock.now(),
                            plans=[("CR-NOTYET", "U0OTHER", None)])["blocks"])
    assert ":clipboard: Fix plan in the thread: CR-NOTYET by <@U0OTHER>" in one
    hostile = joined(alert_card(opened, explanation=EXPLAINED, now=run.clock.now(),
                                plans=[("CR-X", "U0OTHER", "https://evil.example/a|b<!channel>")])["blocks"])
    assert "<!channel>" not in hostile and "|CR-X>" not in hostile
    assert ":clipboard:" not in joined(alert_card(opened, explanation=EXPLAINED, now=run.clock.now())["blocks"])


def test_an_alert_value_that_is_not_ours_is_refused_and_a_bare_name_is_an_older_cards():
    assert ids.parse_alert_value("scanner") == ("scanner", None, None)  # cards drawn before values carried more
    for bad in ('{"target": 7}', "{not json", '{"target": "scanner", "incident": 5}', '{"target": ""}'):
        assert ids.parse_alert_value(bad) is None, bad
