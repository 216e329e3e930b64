"""Scheduled probes to channel alerts end to end: one alert per incident, Fix through the gate, recovery,
and an outbox that survives Slack's 429s and a restart."""

from __future__ import annotations

import json

from slack_helpers import APPROVER, OTHER, sandbox_probes, top_level, wait_until

from bot.slack import ids

INTERVAL = 5 * 60
METRICS_TOKEN = "metrics-token-for-tests-only"


def probe(bot, name: str = "printer"):
    """One scheduled probe run as the lease holder, then the clock moves on by an interval."""
    assert bot.runtime.scheduler.renew_lease()
    result = bot.runtime.scheduler.probe_target(name)
    bot.clock.advance(INTERVAL)
    return result


def delivered(bot) -> None:
    wait_until(lambda: not any(i.state in ("pending", "delivering") for i in outbox_items(bot)), what="outbox empty")


def outbox_items(bot):
    store = bot.runtime.store
    return [store.outbox.get(n) for n in range(1, 500) if store.outbox.get(n) is not None]


def test_broken_mailbox_alerts_once_fix_is_approved_and_recovery_is_posted(start_bot, sandbox, standin):
    bot = start_bot(probes=sandbox_probes(sandbox))
    assert probe(bot).ok
    box = sandbox.state.tenant("contoso").user("printer@contoso.com").mailbox
    box.smtp_client_authentication_disabled = True  # someone turns SMTP AUTH off for the mailbox

    assert probe(bot).cause == "smtp_auth_disabled_mailbox"
    delivered(bot)
    assert standin.messages("C0ALERTS") == []  # one failure is not an incident yet
    probe(bot)
    delivered(bot)
    [alert] = standin.messages("C0ALERTS")
    assert "smtp_auth_disabled_mailbox" in json.dumps(alert.blocks) or "SmtpClientAuthentication" in json.dumps(
        alert.blocks)
    labels = {b.text for b in bot.sender.buttons("C0ALERTS", alert.ts)}
    assert {"Fix", "Probe now"} <= labels and any("Snooze" in label for label in labels)

    probe(bot)
    probe(bot)
    delivered(bot)
    assert len(standin.messages("C0ALERTS")) == 1  # still one message: the card was updated in place
    assert len(standin.message("C0ALERTS", alert.ts).versions) >= 3

    bot.sender.click_button("C0ALERTS", alert.ts, user_id=OTHER, text_or_action_id="Fix")
    plan = wait_until(lambda: [m for m in standin.messages("C0ALERTS") if "SMTP AUTH plan" in json.dumps(m.blocks)],
                      what="plan card from Fix")[0]
    bot.sender.click_button("C0ALERTS", plan.ts, user_id=APPROVER, text_or_action_id="Approve")
    wait_until(lambda: box.smtp_client_authentication_disabled is False, what="fix applied")

    assert probe(bot).ok
    delivered(bot)
    # The alert's own notes in its thread (the plan card and the requester's notices carry metadata).
    thread = [m for m in standin.messages("C0ALERTS") if m.thread_ts == alert.ts and m.metadata is None]
    assert len(thread) == 1 and "ecover" in thread[0].text
    assert "Fix" not in {b.text for b in bot.sender.buttons("C0ALERTS", alert.ts)}
    probe(bot)
    delivered(bot)
    assert len([m for m in standin.messages("C0ALERTS")
                if m.thread_ts == alert.ts and m.metadata is None]) == 1  # recovery once


def test_a_ratelimited_alert_is_posted_exactly_once(start_bot, sandbox, standin):
    bot = start_bot(probes=sandbox_probes(sandbox, password="wrong-password"))
    standin.faults.add(method="chat.postMessage", kind="ratelimited", retry_after="0", times=2)
    probe(bot)
    probe(bot)
    delivered(bot)
    posts = standin.calls("chat.postMessage")
    assert [c.status for c in posts] == [429, 429, 200]
    assert len(standin.messages("C0ALERTS")) == 1


def test_undelivered_alerts_survive_a_restart_and_go_out_once(start_bot, sandbox, standin):
    first = start_bot(probes=sandbox_probes(sandbox, password="wrong-password"))
    first.runtime.outbox.stop()  # the process will "die" before delivering anything
    probe(first)
    probe(first)
    pending = [i for i in outbox_items(first) if i.state == "pending"]
    assert [i.kind for i in pending] == ["alert"]
    first.stop()
    assert standin.messages("C0ALERTS") == []

    second = start_bot(clock=first.clock, probes=sandbox_probes(sandbox, password="wrong-password"))
    delivered(second)
    assert len(standin.messages("C0ALERTS")) == 1
    second.runtime.outbox.deliver_due()
    assert len(standin.messages("C0ALERTS")) == 1


def test_only_approvers_snooze_the_card_says_who_and_unsnooze_is_audited(start_bot, sandbox, standin):
    bot = start_bot(probes=sandbox_probes(sandbox, password="wrong-password"))
    probe(bot)
    probe(bot)
    delivered(bot)
    [alert] = standin.messages("C0ALERTS")
    bot.sender.click_button("C0ALERTS", alert.ts, user_id=OTHER, text_or_action_id="Snooze 4 h")
    wait_until(lambda: any("Only approvers" in t for t in bot.ephemeral_texts()), what="snooze refusal")
    audit = bot.runtime.store.requests.audit_rows
    assert [(r.action, r.actor) for r in audit() if r.action.startswith("alert.")] == [
        ("alert.snooze_refused", OTHER)]
    bot.sender.click_button("C0ALERTS", alert.ts, user_id=APPROVER, text_or_action_id="Snooze 4 h")
    wait_until(lambda: any("snoozed for 4 h" in t for t in bot.ephemeral_texts()), what="snooze answer")
    [row] = [r for r in audit() if r.action == "alert.snoozed"]
    assert row.actor == APPROVER and row.target == "printer" and row.detail["hours"] == 4
    delivered(bot)
    [card] = standin.messages("C0ALERTS")
    assert f"Snoozed by <@{APPROVER}> until" in json.dumps(card.blocks)
    bot.sender.click_button("C0ALERTS", alert.ts, user_id=APPROVER, text_or_action_id="Unsnooze")
    wait_until(lambda: any("no longer snoozed" in t for t in bot.ephemeral_texts()), what="unsnooze answer")
    assert [r.actor for r in audit() if r.action == "alert.unsnoozed"] == [APPROVER]
    delivered(bot)
    [card] = standin.messages("C0ALERTS")
    assert "Snoozed" not in json.dumps(card.blocks)
    bot.sender.click_button("C0ALERTS", alert.ts, user_id=OTHER, text_or_action_id="Probe now")
    wait_until(lambda: any("bad_credentials" in json.dumps(r.payload) for r in standin.responses()),
               what="probe now answer")


def test_status_lists_targets_with_availability_and_chart_is_a_png(start_bot, sandbox, standin):
    import io

    from PIL import Image

    from bot.chart import build_figure
    from bot.history import timeline

    targets = sandbox_probes(sandbox)
    targets["targets"].append({"name": "scanner", "mailbox": "scanner@contoso.com", "password": "Scanner-Sandbox-1"})
    bot = start_bot(probes=targets)
    for _ in range(3):
        probe(bot, "printer")
        probe(bot, "scanner")
    bot.sender.command("/smtp-status", "", user_id=OTHER)
    answer = wait_until(lambda: [r for r in standin.responses() if "printer" in json.dumps(r.payload)],
                        what="status")[0]
    text = json.dumps(answer.payload)
    assert "100 %" in text and "scanner" in text and "basic" in text.lower()

    bot.sender.command("/smtp-status", "chart", user_id=OTHER)
    [chart] = wait_until(lambda: [f for f in standin.files() if f.completed], what="chart upload")
    image = Image.open(io.BytesIO(chart.data))
    assert image.format == "PNG" and image.size[0] >= 800
    figure = build_figure(timeline(bot.runtime.store, bot.runtime.cfg.probes.targets, bot.clock.now()))
    assert all(len(axes.get_lines()) == 2 for axes in figure.axes)  # one series per target in each panel


def test_metrics_endpoint(start_bot, sandbox):
    import requests
    from prometheus_client.parser import text_string_to_metric_families

    bot = start_bot(probes=sandbox_probes(sandbox), server={"metrics_token": METRICS_TOKEN})
    probe(bot)
    bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=OTHER)
    card = bot.card()
    bot.sender.click_button("C0OPS", card.ts, user_id=APPROVER, text_or_action_id="Approve")
    wait_until(lambda: "step_undo" in json.dumps(standin_blocks(bot)), what="applied")
    assert requests.get(f"{bot.url}/metrics", timeout=5).status_code == 401
    scraped = requests.get(f"{bot.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5)
    families = {f.name: f for f in text_string_to_metric_families(scraped.text)}
    [success] = families["probe_success"].samples
    assert success.labels["target"] == "printer" and success.value == 1.0
    assert families["smtp_auth_bot_requests"].samples[0].value == 1.0
    assert families["smtp_auth_bot_approvals"].samples[0].value == 1.0


def standin_blocks(bot):
    return top_level(bot.standin, "C0OPS")[-1].blocks


def test_a_snooze_or_unsnooze_clicked_on_a_card_of_an_incident_that_is_over_is_refused(start_bot, sandbox, standin):
    bot = start_bot(probes=sandbox_probes(sandbox))
    box = sandbox.state.tenant("contoso").user("printer@contoso.com").mailbox
    box.smtp_client_authentication_disabled = True
    probe(bot)
    probe(bot)
    delivered(bot)
    [first] = standin.messages("C0ALERTS")
    stale = {b.text: b for b in bot.sender.buttons("C0ALERTS", first.ts)}
    old_incident = bot.runtime.store.alerts.get("printer").incident_id
    assert json.loads(stale["Snooze 4 h"].value) == {"target": "printer", "incident": old_incident,
                                                     "cause": bot.runtime.store.alerts.get("printer").last_cause}
    box.smtp_client_authentication_disabled = False
    probe(bot)  # recovered: that incident is over
    box.smtp_client_authentication_disabled = True
    probe(bot)
    probe(bot)  # a new incident, with its own card
    delivered(bot)
    new_incident = bot.runtime.store.alerts.get("printer").incident_id
    assert new_incident not in (None, old_incident)

    # The old card, clicked in the instant before its redraw reached the clicker's Slack: nothing is snoozed.
    bot.sender.click(stale["Snooze 4 h"].action_id, stale["Snooze 4 h"].value, user_id=APPROVER,
                     channel_id="C0ALERTS", message_ts=first.ts)
    refusal = wait_until(lambda: [t for t in bot.ephemeral_texts() if "out of date" in t], what="stale refusal")[0]
    assert "a new one is open" in refusal and "Nothing was changed" in refusal
    state = bot.runtime.store.alerts.get("printer")
    assert state.snoozed_until is None and state.incident_id == new_incident
    audit = bot.runtime.store.requests.audit_rows
    assert [(r.action, r.detail["reason"]) for r in audit() if r.action.startswith("alert.")] == [
        ("alert.snooze_refused", "stale card")]

    # A snooze of the new incident from its own card holds; the old card's Unsnooze cannot lift it.
    current = max((m for m in standin.messages("C0ALERTS") if m.thread_ts is None), key=lambda m: float(m.ts))
    bot.sender.click_button("C0ALERTS", current.ts, user_id=APPROVER, text_or_action_id="Snooze 4 h")
    wait_until(lambda: any("snoozed for 4 h" in t for t in bot.ephemeral_texts()), what="snooze answer")
    delivered(bot)
    unsnooze = next(b for b in bot.sender.buttons("C0ALERTS", current.ts) if b.text == "Unsnooze")
    old_unsnooze = ids.alert_value("printer", old_incident, json.loads(stale["Snooze 4 h"].value)["cause"])
    bot.sender.click(unsnooze.action_id, old_unsnooze, user_id=APPROVER, channel_id="C0ALERTS", message_ts=first.ts)
    wait_until(lambda: len([t for t in bot.ephemeral_texts() if "out of date" in t]) == 2, what="2nd refusal")
    assert bot.runtime.store.alerts.get("printer").snoozed_until is not None
