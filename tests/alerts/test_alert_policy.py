"""The alert state machine over probe sequences: thresholds, updates, reminders, recovery, flapping, snooze."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from alert_helpers import BAD_PASSWORD, EVERY, MAILBOX, TARGET, Run

from bot.alerts import (
    Action,
    AlertPolicy,
    Observation,
    card_update,
    flap_changes,
    incident_id,
    is_snoozed,
    snooze,
    step,
    unsnooze,
)
from bot.config import AlertsConfig
from bot.probe.model import ProbeReply, ProbeResult
from bot.store import AlertState, Store

NO_REMINDERS = AlertPolicy(remind_every=None)


def spoken(kinds: list[list[str]]) -> str:
    return " ".join("+".join(step_kinds) or "-" for step_kinds in kinds)


@pytest.mark.parametrize(("policy", "pattern", "expected"), [
    ({}, "F", "-"),
    ({}, "FF", "- open"),
    ({}, "FFFF", "- open update update"),
    ({}, "FFFP", "- open update recover"),
    ({}, "FFPPPP", "- open recover - - -"),
    ({}, "FPFPFP", "- - - - - -"),
    ({}, "PPPP", "- - - -"),
    ({}, "FFPFF", "- open recover - open"),
    ({"failures_before_alert": 1}, "FPP", "open recover -"),
    ({"failures_before_alert": 3}, "FFPFFF", "- - - - - open"),
    ({"successes_before_recovery": 2}, "FFPFPP", "- open - update - recover"),
    ({"successes_before_recovery": 2}, "FFPPPF", "- open - recover - -"),
])
def test_sequences(policy, pattern, expected):
    run = Run(AlertPolicy(remind_every=None, **policy))
    assert spoken(run.feed(pattern)) == expected


def test_one_open_per_incident_then_the_card_count_grows():
    run = Run(NO_REMINDERS)
    run.feed("PFFFFF")
    opened, *updates = run.sent
    assert opened.kind == "open" and [a.kind for a in updates] == ["update"] * 3
    assert [a.count for a in run.sent] == [2, 3, 4, 5]
    first = run.start + EVERY
    assert opened.incident_id == incident_id(TARGET, first) == "scanner:20261128T090500"
    assert {a.incident_id for a in run.sent} == {opened.incident_id}
    assert all(a.first_failure_at == first and a.last_failure_at == a.at for a in run.sent)
    assert [a.at - run.start for a in run.sent] == [EVERY * n for n in range(2, 6)]
    assert opened.target == TARGET and opened.mailbox == MAILBOX and opened.cause == "smtp_auth_disabled_tenant"
    assert opened.phase == "auth" and opened.reply.startswith("535 5.7.139")
    assert opened.alert_ts is None and updates[0].alert_ts == "0.0001"  # ts known only once delivered
    assert run.state.status == "failing" and run.state.incident_id == opened.incident_id


def test_a_new_streak_is_a_new_incident():
    run = Run(NO_REMINDERS)
    run.feed("FFPFF")
    first, second = [a.incident_id for a in run.sent if a.kind == "open"]
    assert first != second and second == incident_id(TARGET, run.start + 3 * EVERY)


def test_cause_change_is_an_update_that_says_so_once():
    run = Run(NO_REMINDERS)
    run.feed("FFF")
    changed = run.probe(False, cause="bad_credentials", reply=BAD_PASSWORD)
    after = run.probe(False, cause="bad_credentials", reply=BAD_PASSWORD)
    assert [a.kind for a in changed] == ["update"] and [a.kind for a in after] == ["update"]
    assert changed[0].reason == "cause_changed" and changed[0].previous_cause == "smtp_auth_disabled_tenant"
    assert changed[0].cause == "bad_credentials" and changed[0].reply == BAD_PASSWORD
    assert after[0].reason is None and after[0].previous_cause is None
    assert run.state.last_cause == "bad_credentials"


def test_reminders_every_interval_from_the_alert_then_from_the_last_reminder():
    run = Run(AlertPolicy(remind_every=timedelta(minutes=30)))
    run.feed("F" * 16)  # open at +5 min; probes every 5 min up to +75 min
    reminders = [a for a in run.sent if a.kind == "remind"]
    assert [a.at - run.start for a in reminders] == [timedelta(minutes=35), timedelta(minutes=65)]
    assert run.kinds().count("open") == 1
    at35 = [a.kind for a in run.sent if a.at - run.start == timedelta(minutes=35)]
    assert at35 == ["update", "remind"]  # the card first, then the thread reply
    assert reminders[0].incident_id == run.sent[0].incident_id and reminders[0].count == 8


def test_no_reminders_when_the_interval_is_zero():
    run = Run(AlertPolicy.from_config(AlertsConfig(remind_every_minutes=0)))
    run.feed("F" * 200)
    assert set(run.kinds()) == {"open", "update"} and run.kinds().count("open") == 1


def test_default_reminder_is_after_four_hours_not_before():
    run = Run(AlertPolicy.from_config(AlertsConfig()))
    run.feed("F" * 49)  # the last probe at +240 min: 235 min after the alert
    assert "remind" not in run.kinds()
    assert run.probe(False)[-1].kind == "remind"  # +245 min: 240 min after the alert


def test_recovery_is_sent_once_with_the_card_to_close_and_the_state_is_cleared():
    run = Run(NO_REMINDERS)
    run.feed("FFF")
    posted = run.state
    recovered = run.probe(True)
    assert [a.kind for a in recovered] == ["recover"]
    action = recovered[0]
    assert (action.incident_id, action.alert_channel, action.alert_ts) == (posted.incident_id, "C0ALERTS", "0.0001")
    assert action.count == 3 and action.first_failure_at == run.start + 0 * EVERY and action.ok
    assert action.at == run.start + 3 * EVERY and action.cause == "smtp_auth_disabled_tenant"
    state = run.state
    assert state.status == "ok" and state.incident_id is None and state.alert_ts is None
    assert state.alert_channel is None and state.consecutive_failures == 0 and state.first_failure_at is None
    assert spoken(run.feed("PPPP")) == "- - - -"


def test_two_successes_needed_keep_counting_the_incident():
    run = Run(AlertPolicy(remind_every=None, successes_before_recovery=2))
    run.feed("FFFPF")
    assert run.sent[-1].kind == "update" and run.sent[-1].count == 4  # the lone success did not reset it
    assert [a.kind for a in run.probe(True)] == [] and run.state.status == "failing"
    assert [a.kind for a in run.probe(True)] == ["recover"] and run.sent[-1].count == 4


def test_version_is_left_for_the_store_and_the_step_is_deterministic():
    state = AlertState(target=TARGET, version=7, history=[False], consecutive_failures=1, last_cause="x",
                       first_failure_at=datetime(2026, 11, 28, 8, 55, tzinfo=UTC))
    obs = Observation(target=TARGET, mailbox=MAILBOX, ok=False, at=datetime(2026, 11, 28, 9, tzinfo=UTC),
                      cause="x", reply="535 no")
    first, second = step(state, obs, AlertPolicy()), step(state, obs, AlertPolicy())
    assert first == second and first[0].version == 7 and [a.kind for a in first[1]] == ["open"]
    assert state.history == [False]  # the input is untouched


# Flapping -------------------------------------------------------------------------------------------
def test_alternating_results_announce_flapping_once_and_open_nothing():
    run = Run(AlertPolicy(remind_every=None, failures_before_alert=1))
    run.feed("FP" * 3 + "F")  # 6 changes: not yet
    assert "flapping" not in run.kinds() and run.kinds().count("open") == 4
    before = len(run.sent)
    run.feed("P" + "FP" * 20)
    flapping = run.sent[before:]
    assert [a.kind for a in flapping] == ["flapping"]  # 7 changes, then silence while it flaps
    assert flapping[0].changes == 7 and flapping[0].probes == 8 and flapping[0].ok
    # Flapping wins over the recovery this success would have been: the last incident stays open, frozen.
    assert flapping[0].incident_id == run.sent[before - 1].incident_id == run.state.incident_id
    assert run.state.status == "flapping" and len(run.state.history) == 21


def test_flapping_without_an_incident_is_a_channel_message():
    run = Run(NO_REMINDERS)
    assert sum(run.feed("FP" * 4), []) == ["flapping"]
    assert run.sent[0].incident_id is None and run.sent[0].alert_ts is None


def test_leaving_flapping_into_failure_opens_without_a_separate_note():
    run = Run(NO_REMINDERS)
    run.feed("FP" * 4)  # flapping from the 8th probe
    before = len(run.sent)
    steps = run.feed("F" * 21)
    # The clear level is 3 changes: the first 5 probes of the flapping stretch must leave the window first.
    assert spoken(steps) == " ".join(["-"] * 17 + ["open"] + ["update"] * 3)
    assert "stable" not in run.kinds()[before:] and flap_changes(run.state.history) == 0
    assert run.state.status == "failing"


def test_leaving_flapping_while_passing_posts_one_stable_note():
    run = Run(NO_REMINDERS)
    run.feed("FP" * 4)
    kinds = run.feed("P" * 30)
    assert sum(kinds, []) == ["stable"]
    note = next(a for a in run.sent if a.kind == "stable")
    assert note.ok and note.changes == 3 and note.incident_id is None and run.state.status == "ok"


def test_flapping_with_an_open_incident_freezes_it_until_recovery():
    run = Run(AlertPolicy(remind_every=timedelta(minutes=10), successes_before_recovery=3))
    run.feed("FF")
    opened = run.sent[0]
    before = len(run.sent)
    run.feed("PF" * 4)
    kinds = run.kinds()[before:]
    assert kinds.count("flapping") == 1 and "open" not in kinds and "recover" not in kinds
    flapping = next(a for a in run.sent if a.kind == "flapping")
    assert flapping.incident_id == opened.incident_id and flapping.alert_ts == "0.0001"
    assert kinds[kinds.index("flapping") + 1:] == []  # no updates or reminders while it flaps
    run.feed("P" * 30)
    assert run.kinds()[before:].count("recover") == 1 and "stable" not in run.kinds()
    assert run.state.incident_id is None and run.state.status == "ok"


def test_leaving_flapping_with_the_incident_still_failing_notes_it_in_the_thread():
    run = Run(AlertPolicy(remind_every=timedelta(minutes=10), successes_before_recovery=3))
    run.feed("FF" + "PF" * 4)
    before = len(run.sent)
    kinds = run.feed("F" * 30)
    exit_step = next(k for k in kinds if k)
    assert exit_step == ["stable", "update"]  # the note counts as the reminder: none in the same step
    note = run.sent[before]
    assert not note.ok and note.incident_id == run.state.incident_id and note.count > 2
    later = kinds[kinds.index(exit_step) + 1:]
    assert later[0] == ["update"] and later[1] == ["update", "remind"]


def test_a_target_hovering_at_the_threshold_is_announced_once():
    run = Run(NO_REMINDERS)
    run.feed("PPPPF" * 30)
    assert run.kinds().count("flapping") == 1 and "stable" not in run.kinds()


# Snooze ---------------------------------------------------------------------------------------------
def test_snooze_holds_the_alert_back_and_it_opens_after_if_still_failing():
    run = Run(NO_REMINDERS)
    run.state = snooze(run.state, run.start + timedelta(minutes=30))
    assert spoken(run.feed("PFFFFF")) == "- - - - - -"  # up to +25 min
    assert run.state.status == "failing" and run.state.incident_id is None and run.state.consecutive_failures == 5
    opened = run.probe(False)  # +30 min: the snooze is over
    assert [a.kind for a in opened] == ["open"]
    assert opened[0].incident_id == incident_id(TARGET, run.start + EVERY) and opened[0].count == 6


def test_a_streak_that_ends_during_the_snooze_never_alerts():
    run = Run(NO_REMINDERS)
    run.state = snooze(run.state, run.start + timedelta(hours=1))
    assert spoken(run.feed("FFFP" + "P" * 20)) == " ".join(["-"] * 24)
    assert run.state.status == "ok"


def test_snoozing_an_open_incident_stops_reminders_but_not_updates_or_recovery():
    run = Run(AlertPolicy(remind_every=timedelta(minutes=10)))
    run.feed("FF")
    run.state = snooze(run.state, run.clock.now() + timedelta(minutes=30))
    assert is_snoozed(run.state, run.clock.now())
    assert set(sum(run.feed("FFFFFF"), [])) == {"update"}
    assert sum(run.feed("F"), []) == ["update", "remind"]  # the snooze has ended
    run.state = snooze(run.state, run.clock.now() + timedelta(hours=1))
    assert sum(run.feed("P"), []) == ["recover"]
    assert run.state.snoozed_until is None  # the snooze ends with its incident


def test_a_snooze_is_for_its_incident_and_a_new_one_alerts_again():
    run = Run(NO_REMINDERS)
    run.feed("FF")
    first = run.state.incident_id
    run.state = snooze(run.state, run.clock.now() + timedelta(hours=24), by="U0APPROVER")
    assert (run.state.snoozed_incident, run.state.snoozed_cause, run.state.snoozed_by) == (
        first, "smtp_auth_disabled_tenant", "U0APPROVER")
    assert spoken(run.feed("FP")) == "update recover"
    opened = run.feed("FF")  # within the 24 h, but another incident
    assert opened == [[], ["open"]] and run.state.incident_id != first
    assert run.sent[-1].snoozed_until is None and run.state.snoozed_until is None


def test_a_snooze_set_on_one_cause_does_not_hide_another():
    run = Run(AlertPolicy(remind_every=timedelta(hours=4)))
    run.feed("FF")
    run.state = snooze(run.state, run.clock.now() + timedelta(hours=24), by="U0APPROVER")
    assert spoken(run.feed("FF")) == "update update"  # same cause: silent edits only
    [update, remind] = run.probe(False, cause="timeout", reply="timed out")
    assert (update.kind, update.reason, update.snoozed_until) == ("update", "cause_changed", None)
    assert remind.kind == "remind" and not is_snoozed(run.state, run.clock.now())
    assert run.state.snoozed_until is None and run.state.snoozed_by is None
    assert spoken(run.feed("F")) == "update"  # reminders back on their own schedule


def test_a_snooze_before_an_incident_holds_only_for_the_failing_cause():
    run = Run(NO_REMINDERS)
    run.feed("F")
    run.state = snooze(run.state, run.clock.now() + timedelta(hours=1))
    assert spoken(run.feed("F")) == "-"
    assert [a.kind for a in run.probe(False, cause="timeout", reply="timed out")] == ["open"]


def test_unsnooze_and_the_card_redraw_it_needs():
    run = Run(NO_REMINDERS)
    run.feed("FF")
    now = run.clock.now()
    assert card_update(AlertState(target=TARGET), mailbox=MAILBOX, at=now) is None
    snoozed = snooze(run.state, now + timedelta(hours=24))
    redraw = card_update(snoozed, mailbox=MAILBOX, at=now)
    assert redraw.kind == "update" and redraw.reason == "snoozed" and redraw.snoozed_until == now + timedelta(hours=24)
    assert redraw.incident_id == run.state.incident_id and redraw.alert_ts == run.state.alert_ts
    woken = unsnooze(snoozed)
    assert woken.snoozed_until is None and card_update(woken, mailbox=MAILBOX, at=now).reason == "unsnoozed"
    with pytest.raises(ValueError, match="timezone-aware"):
        snooze(run.state, datetime(2026, 11, 29, 9))


# State and payloads ---------------------------------------------------------------------------------
def test_history_is_capped_and_the_state_is_json_friendly():
    run = Run(AlertPolicy(flap_window=5, flap_threshold=3, flap_clear=1))
    run.feed("FFPFFFFF")
    state = run.state
    assert state.history == [False, False, False, False, False] and len(state.history) == 5
    assert json.loads(json.dumps(state.history)) == state.history and all(type(h) is bool for h in state.history)
    for moment in (state.first_failure_at, state.last_failure_at, state.last_reminder_at):
        assert moment is not None and moment.utcoffset() == timedelta(0)


def test_the_state_round_trips_through_the_store(db_url, clock):
    store = Store(db_url, clock=clock)
    store.migrate()
    try:
        pure, stored = Run(AlertPolicy(remind_every=timedelta(minutes=10))), Run(
            AlertPolicy(remind_every=timedelta(minutes=10)))
        for letter in "FFFFPFFPPFPFPFPFPFPFPPPP":
            pure.probe(letter == "P")
            stored.probe(letter == "P")
            saved = store.alerts.save(stored.state)
            assert saved is not None
            stored.state = store.alerts.get(TARGET)
            assert stored.state == replace(pure.state, version=saved.version, updated_at=saved.updated_at)
        assert stored.kinds() == pure.kinds() and "flapping" in pure.kinds()
    finally:
        store.close()


def test_actions_serialise_for_the_outbox_with_stable_dedupe_keys():
    run = Run(AlertPolicy(remind_every=timedelta(minutes=5)))
    run.feed("FFFFP")
    for action in run.sent:
        payload = json.loads(json.dumps(action.to_dict()))
        assert Action.from_dict(payload) == action
    keys = [a.dedupe_key for a in run.sent]
    assert len(keys) == len(set(keys))
    incident = run.sent[0].incident_id
    assert keys[0] == f"alert:{incident}:open" and keys[-1] == f"alert:{incident}:recover"
    assert keys[1] == f"alert:{incident}:update:{run.sent[1].at.isoformat()}"
    with pytest.raises(ValueError, match="kind must be one of"):
        Action(kind="page", target=TARGET, mailbox=MAILBOX, at=run.start, ok=False)


def test_observation_from_a_probe_result():
    at = datetime(2026, 11, 28, 9, tzinfo=UTC)
    common = dict(name=TARGET, host="smtp.office365.com", port=587, mailbox=MAILBOX, tls_mode="starttls",
                  auth="login", auth_mode="basic", started_at=at, duration_ms=420.0)
    failed = ProbeResult(**common, ok=False, phase="auth", cause="bad_credentials", detail=None,
                         message="AUTH LOGIN refused", reply=ProbeReply(535, "5.7.3", "Authentication unsuccessful",
                                                                        "535 5.7.3 Authentication unsuccessful"))
    assert Observation.from_probe(failed) == Observation(
        target=TARGET, mailbox=MAILBOX, ok=False, at=at, cause="bad_credentials",
        reply="535 5.7.3 Authentication unsuccessful", phase="auth")
    timeout = replace(failed, cause="timeout", phase="greeting", reply=None, message="no greeting in 20 s")
    assert Observation.from_probe(timeout).reply == "no greeting in 20 s"
    passed = replace(failed, ok=True, cause="ok", phase="auth", reply=None, message="authenticated")
    assert Observation.from_probe(passed).cause is None and Observation.from_probe(passed).ok
    with pytest.raises(ValueError, match="timezone-aware"):
        Observation(target=TARGET, mailbox=MAILBOX, ok=True, at=datetime(2026, 11, 28, 9))


def test_policy_from_config_and_its_checks():
    policy = AlertPolicy.from_config(AlertsConfig())
    assert policy == AlertPolicy(failures_before_alert=2, successes_before_recovery=1,
                                 remind_every=timedelta(hours=4), flap_window=21, flap_threshold=6, flap_clear=3,
                                 snooze=timedelta(hours=24))
    with pytest.raises(ValueError, match="flap_clear"):
        AlertPolicy(flap_threshold=6, flap_clear=7)
    with pytest.raises(ValueError, match="at least 1"):
        AlertPolicy(failures_before_alert=0)
    with pytest.raises(ValueError, match="given to the state"):
        step(AlertState(target="printer"), Observation(target=TARGET, mailbox=MAILBOX, ok=True,
                                                        at=datetime(2026, 11, 28, 9, tzinfo=UTC)), policy)


def test_a_click_on_a_card_whose_incident_or_cause_changed_is_stale():
    from bot.alerts.service import _stale
    from bot.store.records import AlertState

    open_now = AlertState(target="scanner", incident_id="scanner:2", last_cause="auth_failed")
    assert _stale(open_now, "scanner:2", "auth_failed") is None
    assert _stale(open_now, None, None) is None  # a card drawn before buttons carried the incident
    assert "a new one is open" in _stale(open_now, "scanner:1", "auth_failed")
    assert "incident it shows is over." in _stale(AlertState(target="scanner"), "scanner:2", "auth_failed")
    assert "cause changed to tls_failed" in _stale(
        AlertState(target="scanner", incident_id="scanner:2", last_cause="tls_failed"), "scanner:2", "auth_failed")
