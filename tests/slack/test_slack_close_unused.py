"""From the readiness card to the clean-up: Close unused (N) runs the report again at the click and posts the
clean-up's plan card in the report's thread; a mailbox used since is skipped; the organisation switch is proposed
only when no inheriting mailbox uses SMTP AUTH; a long list arrives as a CSV in the card's thread."""

from __future__ import annotations

import csv
import io
import json

from slack_helpers import APPROVER, GROUP_MEMBER, REQUESTER, wait_until

from bot.workflow.model import MailboxState, StepState
from handlers.facts import OAuthApp
from sandbox.signins import add_sign_in
from sandbox.slack.buttons import buttons_in


def readiness_card(bot, days: str = ""):
    """A new readiness card, once its summary is in."""
    before = len(bot.top_level())
    bot.sender.command("/smtp-readiness", days, user_id=REQUESTER)
    wait_until(lambda: len(bot.top_level()) > before, what="a new card")
    return bot.wait_card(lambda text: "from now" in text, what="summary card")


def close_button(card):
    return next((b for b in buttons_in(card.versions[-1].blocks) if b.action_id == "readiness_close_unused"), None)


def plan_in_thread(bot, card):
    return wait_until(lambda: [m for m in bot.standin.messages("C0OPS") if m.thread_ts == card.ts
                               and "SMTP AUTH clean-up" in json.dumps(m.blocks)], what="the clean-up card")[0]


def cleanup_files(standin):
    return [f for f in standin.files() if f.completed and f.filename.startswith("smtp-auth-cleanup")]


def test_the_button_is_there_only_when_the_report_found_unused_mailboxes(start_bot, sandbox):
    bot = start_bot()
    button = close_button(readiness_card(bot))
    assert button is not None and button.text == "Close unused (3)" and button.value.startswith("30:")
    sandbox.state.tenant("contoso").entra_id_p1 = False  # usage unknown: nothing is known to be unused
    assert close_button(readiness_card(bot, "--days 7")) is None


def test_the_click_reads_the_tenant_again_and_opens_the_clean_up_in_the_reports_thread(start_bot, sandbox, standin):
    bot = start_bot()
    card = readiness_card(bot)
    assert close_button(card).text == "Close unused (3)"
    contoso = sandbox.state.tenant("contoso")
    contoso.user("fax@contoso.com").mailbox.smtp_client_authentication_disabled = True  # an admin closed it since
    sandbox.state.requests.clear()
    bot.sender.click_button("C0OPS", card.ts, user_id=REQUESTER, text_or_action_id="readiness_close_unused")
    plan = plan_in_thread(bot, card)
    text = json.dumps(plan.blocks)
    assert "2 mailboxes unused for 30 days" in text and "fax@contoso.com" not in text
    assert "admin@contoso.com" in text and "breakglass@contoso.com" in text
    assert any(r.service == "graph" and "signIns" in r.path for r in sandbox.state.requests)  # read again
    wait_until(bot.runtime.idle, what="everything delivered")
    [view] = [v for v in bot.runtime.workflow.recent(5) if v.cleanup]
    assert view.request.thread_ts == card.ts and view.request.requester == REQUESTER
    assert [s.handler_key for s in view.steps] == ["bulk_smtp_auth_off"]  # the organisation's switch is off already
    assert cleanup_files(standin) == []  # 2 mailboxes: the card lists them all

    bot.sender.click_button("C0OPS", card.ts, user_id=REQUESTER, text_or_action_id="readiness_close_unused")
    wait_until(lambda: any("already proposed from this report" in t for t in bot.ephemeral_texts()),
               what="the second click's answer")
    wait_until(bot.runtime.idle, what="the click handled")
    assert len([v for v in bot.runtime.workflow.recent(5) if v.cleanup]) == 1  # one clean-up per report card


def test_a_forged_or_malformed_value_opens_nothing(start_bot, sandbox):
    bot = start_bot()
    card = readiness_card(bot)
    for value in ("30:20261128T090000Z;printer@contoso.com", "99:20261128T090000Z", "30", "printer@contoso.com"):
        answer = bot.sender.click("readiness_close_unused", value, user_id=REQUESTER, channel_id="C0OPS",
                                  message_ts=card.ts)
        assert answer.status_code == 200
    wait_until(bot.runtime.idle, what="the clicks handled")
    assert not [v for v in bot.runtime.workflow.recent(5) if v.cleanup]


def test_a_mailbox_used_since_the_report_is_skipped(start_bot, sandbox):
    bot = start_bot()
    card = readiness_card(bot)
    bot.sender.click_button("C0OPS", card.ts, user_id=REQUESTER, text_or_action_id="readiness_close_unused")
    plan = plan_in_thread(bot, card)
    contoso = sandbox.state.tenant("contoso")
    add_sign_in(contoso, "breakglass@contoso.com", sandbox.state.clock.now(), "192.0.2.44")  # used after the report
    bot.sender.click_button("C0OPS", plan.ts, user_id=APPROVER, text_or_action_id="Approve")
    wait_until(lambda: "1 of 2 approvals so far" in json.dumps(bot.standin.message("C0OPS", plan.ts).blocks),
               what="the first approval")
    bot.sender.click_button("C0OPS", plan.ts, user_id=GROUP_MEMBER, text_or_action_id="Approve")
    [view] = wait_until(lambda: [v for v in bot.runtime.workflow.recent(5)
                                 if v.cleanup and v.steps[0].state == StepState.VERIFIED], what="the clean-up applied")
    boxes = {m.upn: m for m in view.mailboxes[view.steps[0].id]}
    assert boxes["breakglass@contoso.com"].state == MailboxState.SKIPPED
    assert "Used SMTP AUTH since the report" in boxes["breakglass@contoso.com"].error
    assert contoso.user("breakglass@contoso.com").mailbox.smtp_client_authentication_disabled is False
    assert contoso.user("admin@contoso.com").mailbox.smtp_client_authentication_disabled is True
    assert contoso.user("fax@contoso.com").mailbox.smtp_client_authentication_disabled is True


def test_the_organisation_switch_is_proposed_only_when_no_inheriting_mailbox_uses_it(start_bot, sandbox):
    contoso = sandbox.state.tenant("contoso")
    contoso.smtp_client_authentication_disabled = False  # the organisation allows SMTP AUTH; copier inherits it
    bot = start_bot()
    card = readiness_card(bot)
    assert close_button(card).text == "Close unused (4)"
    bot.sender.click_button("C0OPS", card.ts, user_id=REQUESTER, text_or_action_id="readiness_close_unused")
    plan_in_thread(bot, card)
    wait_until(bot.runtime.idle, what="the card delivered")
    [view] = [v for v in bot.runtime.workflow.recent(5) if v.cleanup]
    assert [s.handler_key for s in view.steps] == ["bulk_smtp_auth_off", "org_smtp_auth_off"]
    assert view.request.options["org_unused"] is True

    add_sign_in(contoso, "copier@contoso.com", sandbox.state.clock.now(), "192.0.2.45")  # an inheriting one is used
    card = readiness_card(bot, "--days 29")
    assert close_button(card).text == "Close unused (3)"
    bot.sender.click_button("C0OPS", card.ts, user_id=REQUESTER, text_or_action_id="readiness_close_unused")
    plan_in_thread(bot, card)
    wait_until(bot.runtime.idle, what="the card delivered")
    latest = [v for v in bot.runtime.workflow.recent(5) if v.cleanup and v.request.thread_ts == card.ts]
    assert [s.handler_key for s in latest[0].steps] == ["bulk_smtp_auth_off"]
    assert latest[0].request.options["org_unused"] is False


def test_more_than_ten_mailboxes_come_as_a_csv_in_the_cards_thread(start_bot, sandbox, standin):
    idle = [f"idle{n:02}@contoso.com" for n in range(12)]
    for upn in idle:
        sandbox.state.add_user("contoso", upn, smtp_client_authentication_disabled=False)
    bot = start_bot()
    view = bot.runtime.workflow.open_cleanup([(u, False) for u in idle], 30, REQUESTER, "C0OPS")
    [upload] = wait_until(lambda: cleanup_files(standin), what="the clean-up CSV")
    card = bot.card()
    assert upload.thread_ts == card.ts and upload.channels == ("C0OPS",)
    assert view.request.id in upload.filename
    rows = list(csv.reader(io.StringIO(upload.data.decode())))
    assert rows[0] == ["mailbox", "prior_smtp_auth", "state", "note"]
    assert [r[0] for r in rows[1:]] == idle and {r[1] for r in rows[1:]} == {"enabled"}
    assert "in the CSV in this thread" in json.dumps(card.versions[-1].blocks)
    wait_until(bot.runtime.idle, what="everything delivered")
    bot.runtime.cards.refresh(view.request.id)  # later redraws upload nothing more
    wait_until(bot.runtime.idle, what="the redraw")
    assert len(cleanup_files(standin)) == 1


def test_a_mailbox_the_bot_onboarded_with_full_access_is_oauth_on_the_card_and_csv_and_never_closed(start_bot,
                                                                                                  sandbox):
    app = "3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809"
    sandbox.state.grant(app, "SMTP.SendAsApp")
    bot = start_bot()
    flow = bot.runtime.workflow
    view = flow.open_request("breakglass@contoso.com", REQUESTER, "C0OPS", app=OAuthApp(app, "full_access"))
    assert all(o.run for o in flow.approve_all(view.request.id, APPROVER))
    assert {s.handler_key: s.state for s in flow.store.requests.get_steps(view.request.id)}["oauth_full_access"] == \
        StepState.VERIFIED

    card = readiness_card(bot)
    assert close_button(card).text == "Close unused (2)"  # admin and fax; no longer breakglass
    text = json.dumps(card.versions[-1].blocks)
    assert "known only where the bot's own /smtp-oauth onboarding made them" in text
    report, csv_text = bot.runtime.readiness_report(30, lambda phase, count: None)
    rows = {r["account"]: r for r in csv.DictReader(io.StringIO(csv_text))}
    assert rows["breakglass@contoso.com"]["class"] == "OAuth" and rows["breakglass@contoso.com"]["oauth"] == "True"
    assert f"onboarding gave app {app} access to it" in rows["breakglass@contoso.com"]["why"]
    assert "cannot be seen (Exchange lists FullAccess one mailbox at a time)" in rows["fax@contoso.com"]["why"]

    bot.sender.click_button("C0OPS", card.ts, user_id=REQUESTER, text_or_action_id="readiness_close_unused")
    plan = plan_in_thread(bot, card)
    assert "2 mailboxes unused for 30 days" in json.dumps(plan.blocks)
    [cleanup] = [v for v in flow.recent(10) if v.cleanup]
    assert "breakglass@contoso.com" not in {m.upn for m in cleanup.mailboxes[cleanup.steps[0].id]}
