"""Threads: a Fix from an alert posts its plan in the alert's thread, the alert links it, and the requester is
told each outcome of each step (approved, denied, applied, failed, expired, undone) exactly once, by a mention
in the card's thread, through the outbox."""

from __future__ import annotations

import json
from typing import Any

import pytest
from blocks_helpers import validate
from slack_helpers import APPROVER, GROUP_MEMBER, OTHER, REQUESTER, sandbox_probes, wait_until
from test_slack_alerts import delivered, probe
from test_slack_cards import DiesAfterPosting, Killed

from bot.slack.notices import NOTICE_EVENT, POST_LEASE
from sandbox.slack import TEAM_DOMAIN
from sandbox.slack.buttons import buttons_in


def notices(standin, channel: str, thread: str) -> list[Any]:
    return [m for m in standin.messages(channel)
            if m.thread_ts == thread and (m.metadata or {}).get("event_type") == NOTICE_EVENT]


def told(standin, channel: str, thread: str, *words: str) -> list[str]:
    """The notices' mrkdwn in `thread`, waiting until the last one holds every word."""
    def check() -> list[str] | None:
        texts = [m.blocks[0]["text"]["text"] for m in notices(standin, channel, thread)]
        return texts if texts and all(w in texts[-1] for w in words) else None
    return wait_until(check, what=f"a notice saying {words}")


def alert_of(bot, sandbox, standin):
    box = sandbox.state.tenant("contoso").user("printer@contoso.com").mailbox
    assert probe(bot).ok
    box.smtp_client_authentication_disabled = True
    probe(bot)
    probe(bot)
    delivered(bot)
    [alert] = standin.messages("C0ALERTS")
    return alert, box


def test_a_fix_from_an_alert_goes_in_its_thread_and_the_requester_hears_each_outcome_once(start_bot, sandbox,
                                                                                          standin):
    bot = start_bot(probes=sandbox_probes(sandbox))
    alert, box = alert_of(bot, sandbox, standin)
    bot.sender.click_button("C0ALERTS", alert.ts, user_id=OTHER, text_or_action_id="Fix")
    plan = wait_until(lambda: [m for m in standin.messages("C0ALERTS") if "SMTP AUTH plan" in json.dumps(m.blocks)],
                      what="plan card from Fix")[0]
    assert plan.thread_ts == alert.ts  # in the alert's thread, not a new top-level message
    assert [m.ts for m in standin.messages("C0ALERTS") if m.thread_ts is None] == [alert.ts]
    wait_until(lambda: bot.runtime.idle(), what="card delivered")
    [view] = bot.runtime.workflow.requests_for("printer@contoso.com")
    assert (view.request.thread_ts, view.request.message_ts) == (alert.ts, plan.ts)
    # The alert links its plan: the permalink Slack gives the reply (it names the thread), with who asked.
    permalink = (f"https://{TEAM_DOMAIN}.slack.com/archives/C0ALERTS/p{plan.ts.replace('.', '')}"
                 f"?thread_ts={alert.ts}&amp;cid=C0ALERTS")  # `&` escaped in mrkdwn, as Slack wants
    linked = json.dumps(standin.message("C0ALERTS", alert.ts).blocks)
    assert f"<{permalink}|{view.request.id}> by <@{OTHER}>" in linked
    assert {"Fix", "Probe now"} <= {b.text for b in bot.sender.buttons("C0ALERTS", alert.ts)}
    validate({"text": "alert", "blocks": standin.message("C0ALERTS", alert.ts).blocks})

    bot.sender.click_button("C0ALERTS", plan.ts, user_id=APPROVER, text_or_action_id="Approve")
    wait_until(lambda: box.smtp_client_authentication_disabled is False, what="fix applied")
    texts = told(standin, "C0ALERTS", alert.ts, "applied and verified")
    assert len(texts) == 2 and all(t.startswith(f"<@{OTHER}> {view.request.id}:") for t in texts)
    assert f"approved by <@{APPROVER}> at" in texts[0] and "UTC" in texts[0]

    wait_until(lambda: "step_undo" in json.dumps(standin.message("C0ALERTS", plan.ts).blocks), what="Undo shown")
    bot.sender.click_button("C0ALERTS", plan.ts, user_id=OTHER, text_or_action_id="step_undo")
    wait_until(lambda: "undo_approve" in json.dumps(standin.message("C0ALERTS", plan.ts).blocks), what="undo asked")
    bot.sender.click_button("C0ALERTS", plan.ts, user_id=APPROVER, text_or_action_id="undo_approve")
    texts = told(standin, "C0ALERTS", alert.ts, "was undone at", f"(asked by you, approved by <@{APPROVER}>)")
    wait_until(lambda: bot.runtime.idle(), what="everything delivered")
    bot.runtime.outbox.deliver_due()
    assert len(notices(standin, "C0ALERTS", alert.ts)) == 3  # approved, applied, undone: one each
    for message in notices(standin, "C0ALERTS", alert.ts):
        assert json.dumps(message.blocks).count(f"<@{OTHER}>") == 1


def test_denied_failed_and_expired_steps_are_told_in_the_cards_thread(start_bot, sandbox, standin):
    bot = start_bot()
    bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=REQUESTER)
    denied = bot.card()
    bot.sender.click_button("C0OPS", denied.ts, user_id=APPROVER, text_or_action_id="Deny")
    [text] = told(standin, "C0OPS", denied.ts, "was denied by", f"<@{APPROVER}>")
    assert text.startswith(f"<@{REQUESTER}> ") and "nothing will change" in text

    sandbox.state.faults.add("status", service="exchange", cmdlet="Set-CASMailbox", status=403, times=None)
    bot.sender.command("/smtp-enable", "copier@contoso.com", user_id=REQUESTER)
    failing = wait_until(lambda: [m for m in standin.messages("C0OPS") if m.thread_ts is None][1:], what="2nd card")[0]
    bot.sender.click_button("C0OPS", failing.ts, user_id=APPROVER, text_or_action_id="Approve")
    texts = told(standin, "C0OPS", failing.ts, "failed at", "*Retry*", "Set-CASMailbox")
    assert len(texts) == 2 and "was approved by" in texts[0] and "Retry" not in texts[0]
    sandbox.state.faults.clear()

    bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=REQUESTER)
    stale = wait_until(lambda: [m for m in standin.messages("C0OPS") if m.thread_ts is None][2:], what="3rd card")[0]
    bot.clock.advance(61 * 60)
    bot.runtime.workflow.expire_due()
    [text] = told(standin, "C0OPS", stale.ts, "expired at", "/smtp-enable scanner@contoso.com")
    bot.runtime.workflow.expire_due()  # a second sweep finds nothing more to tell
    wait_until(lambda: bot.runtime.idle(), what="delivered")
    assert len(notices(standin, "C0OPS", stale.ts)) == 1


def test_a_notice_is_posted_once_after_a_slack_error_and_after_a_crash_mid_post(start_bot, standin):
    bot = start_bot()
    bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=REQUESTER)
    card = bot.card()
    wait_until(lambda: bot.runtime.idle(), what="card delivered")
    outage = standin.faults.add(method="chat.postMessage", kind="status", status=503, times=None)
    bot.sender.click_button("C0OPS", card.ts, user_id=REQUESTER, text_or_action_id="Deny")

    def in_thread() -> list[int]:
        return [c.status for c in standin.calls("chat.postMessage") if c.args.get("thread_ts") == card.ts]
    wait_until(lambda: in_thread() == [503], what="a failed post")
    standin.faults.remove(outage.id)
    # the outbox sets the retry from the clock once Slack has answered: advance past the backoff only after that
    wait_until(lambda: any((item := bot.runtime.store.outbox.get(n)) is not None and item.kind == "notice"
                           and item.attempts >= 1 and item.state == "pending" for n in range(1, 50)),
               what="the failed post recorded for a retry")
    bot.clock.advance(2)  # the outbox's backoff
    told(standin, "C0OPS", card.ts, "was denied by you")
    assert in_thread() == [503, 200]

    bot.runtime.outbox.stop()  # from here the test delivers round by round, killing the process mid-post
    notices_sender = bot.runtime.outbox.senders["notice"].__self__
    client = notices_sender.client
    notices_sender.client = DiesAfterPosting(client)
    bot.sender.command("/smtp-enable", "copier@contoso.com", user_id=REQUESTER)
    wait_until(lambda: bot.runtime.store.outbox.backlog() > 0, what="card queued")
    bot.runtime.outbox.deliver_due()
    second = [m for m in standin.messages("C0OPS") if m.thread_ts is None][1]
    bot.sender.click_button("C0OPS", second.ts, user_id=REQUESTER, text_or_action_id="Deny")
    wait_until(lambda: bot.runtime.store.outbox.backlog() > 0, what="notice queued")
    with pytest.raises(Killed):
        while bot.runtime.outbox.deliver_due():
            pass
    assert len(notices(standin, "C0OPS", second.ts)) == 1
    notices_sender.client, notices_sender.holder = client, "the process started after the kill"
    bot.clock.advance(max(POST_LEASE, bot.runtime.outbox.claim_lease).total_seconds() + 1)
    while bot.runtime.outbox.deliver_due():
        pass
    assert bot.runtime.store.outbox.backlog() == 0
    assert len(notices(standin, "C0OPS", second.ts)) == 1  # adopted from the thread, not posted again
    # A retry after an attempt that may have reached Slack looks in the thread first (the 503 above too).
    assert [c.args["ts"] for c in standin.calls("conversations.replies")] == [card.ts, second.ts]


# App Home: no response_url, so a click's answer comes as a notice at the top of the refreshed Home view ----------
def home_after(bot, user: str, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The user's Home view once it is published anew (a different `hash` from `previous`)."""
    def fresh() -> dict[str, Any] | None:
        view = bot.standin.home(user)
        return view if view and (previous is None or view["hash"] != previous["hash"]) else None
    return wait_until(fresh, what=f"the Home view of {user}")


def home_click(bot, user: str, view: dict[str, Any], label: str) -> dict[str, Any]:
    [button] = [b for b in buttons_in(view["blocks"]) if b.text == label][:1]
    answer = bot.sender.click_in_home(button.action_id, button.value, user_id=user, view=view)
    assert answer.status_code == 200
    return home_after(bot, user, view)


def set_calls(sandbox) -> list[str]:
    return [r.cmdlet for r in sandbox.state.requests.for_service("exchange") if r.cmdlet.startswith("Set-")]


def notice_of(view: dict[str, Any]) -> str:
    return view["blocks"][0]["text"]["text"]


def test_app_home_clicks_answer_refusals_and_outcomes_in_the_refreshed_home_view(start_bot, sandbox, standin):
    bot = start_bot()
    bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=REQUESTER)
    card = bot.card()
    wait_until(lambda: bot.runtime.idle(), what="card posted")
    bot.sender.app_home_opened(user_id=APPROVER)
    stale = home_after(bot, APPROVER)
    assert not notice_of(stale).startswith(":speech_balloon:")  # opening Home is no click: no notice
    bot.sender.click_button("C0OPS", card.ts, user_id=GROUP_MEMBER, text_or_action_id="Deny")
    told(standin, "C0OPS", card.ts, "was denied by")

    refused = home_click(bot, APPROVER, stale, "Approve")
    text = notice_of(refused)
    assert text.startswith(":speech_balloon: You clicked *Approve* at <!date^")
    assert f"Already decided: this step is denied by <@{GROUP_MEMBER}>" in text
    assert refused["blocks"][1]["type"] == "divider"
    assert "Set-CASMailbox" not in set_calls(sandbox)
    assert standin.calls("chat.postEphemeral") == [] and all(r.status == 200 for r in standin.responses())

    bot.sender.command("/smtp-enable", "copier@contoso.com", user_id=REQUESTER)
    second = wait_until(lambda: [m for m in standin.messages("C0OPS") if m.thread_ts is None][1:], what="card")[0]
    wait_until(lambda: bot.runtime.idle(), what="card posted")
    bot.sender.app_home_opened(user_id=APPROVER)
    view = home_after(bot, APPROVER, refused)
    approved = home_click(bot, APPROVER, view, "Approve")
    assert "You clicked *Approve*" in notice_of(approved) and "Approved; applying it now." in notice_of(approved)
    told(standin, "C0OPS", second.ts, "applied and verified")  # the requester hears it in the card's thread

    bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=REQUESTER)
    wait_until(lambda: [m for m in standin.messages("C0OPS") if m.thread_ts is None][2:], what="third card")
    wait_until(lambda: bot.runtime.idle(), what="card posted")
    bot.sender.app_home_opened(user_id=APPROVER)
    view = home_after(bot, APPROVER, approved)
    bot.clock.advance(61 * 60)
    late = home_click(bot, APPROVER, view, "Approve")
    assert "This approval expired at" in notice_of(late)
    assert set_calls(sandbox) == ["Set-CASMailbox"]  # the approved one only; the expired click changed nothing


def test_a_plan_queued_when_the_process_stopped_is_posted_in_the_alerts_thread_after_a_restart(start_bot, sandbox,
                                                                                              standin):
    first = start_bot(probes=sandbox_probes(sandbox))
    alert, _ = alert_of(first, sandbox, standin)
    first.runtime.outbox.stop()  # Slack is unreachable from here on for this process, which then stops
    first.sender.click_button("C0ALERTS", alert.ts, user_id=OTHER, text_or_action_id="Fix")
    wait_until(lambda: any(i.kind == "card" for i in pending_items(first)), what="the plan card queued")
    first.stop()
    assert [m.ts for m in standin.messages("C0ALERTS")] == [alert.ts]

    second = start_bot(clock=first.clock, probes=sandbox_probes(sandbox))
    delivered(second)
    [plan] = [m for m in standin.messages("C0ALERTS") if "SMTP AUTH plan" in json.dumps(m.blocks)]
    assert plan.thread_ts == alert.ts
    assert [m.ts for m in standin.messages("C0ALERTS") if m.thread_ts is None] == [alert.ts]
    wait_until(lambda: "Fix plan in the thread" in json.dumps(standin.message("C0ALERTS", alert.ts).blocks),
               what="the alert linking its plan")


def pending_items(bot) -> list[Any]:
    store = bot.runtime.store
    items = [store.outbox.get(n) for n in range(1, 200)]
    return [i for i in items if i is not None and i.state == "pending"]


def test_a_plan_card_posted_in_a_thread_by_a_killed_process_is_adopted_from_the_thread(start_bot, sandbox,
                                                                                      standin):
    bot = start_bot(probes=sandbox_probes(sandbox))
    alert, _ = alert_of(bot, sandbox, standin)
    bot.runtime.outbox.stop()
    cards = bot.runtime.cards
    client = cards.client
    cards.client = DiesAfterPosting(client)
    bot.sender.click_button("C0ALERTS", alert.ts, user_id=OTHER, text_or_action_id="Fix")
    wait_until(lambda: any(i.kind == "card" for i in pending_items(bot)), what="the plan card queued")
    with pytest.raises(Killed):
        while bot.runtime.outbox.deliver_due():
            pass
    [posted] = [m for m in standin.messages("C0ALERTS") if m.thread_ts == alert.ts]

    cards.client, cards.holder = client, "the process started after the kill"
    bot.clock.advance(max(POST_LEASE, bot.runtime.outbox.claim_lease).total_seconds() + 1)
    while bot.runtime.outbox.deliver_due():
        pass
    assert [m.ts for m in standin.messages("C0ALERTS") if m.thread_ts == alert.ts] == [posted.ts]
    assert [c.args["ts"] for c in standin.calls("conversations.replies")] == [alert.ts]
    [view] = bot.runtime.workflow.requests_for("printer@contoso.com")
    assert view.request.message_ts == posted.ts
    assert "Fix plan in the thread" in json.dumps(standin.message("C0ALERTS", alert.ts).blocks)


def test_the_first_of_two_approvals_is_told_in_the_thread_once_and_shown_on_the_card(start_bot, sandbox, standin):
    bot = start_bot(approvals_required={"mailbox_smtp_auth": 2})
    bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=REQUESTER)
    card = bot.wait_card(lambda blocks: "Approve" in blocks, what="plan card")
    assert "Needs 2 different approvers: 0 of 2 approvals so far" in json.dumps(card.blocks)
    bot.sender.click_button("C0OPS", card.ts, user_id=APPROVER, text_or_action_id="Approve")
    [text] = told(standin, "C0OPS", card.ts, "(1 of 2)")
    assert text.startswith(f"<@{REQUESTER}> ") and f"was approved by <@{APPROVER}> at <!date^" in text
    assert "one more approver needed before it is applied" in text
    wait_until(lambda: "1 of 2 approvals so far: <@U0APPROVE>" in json.dumps(standin.message("C0OPS", card.ts).blocks),
               what="the card shows 1 of 2")
    bot.sender.click_button("C0OPS", card.ts, user_id=APPROVER, text_or_action_id="Approve")  # the same approver
    bot.sender.click_button("C0OPS", card.ts, user_id=GROUP_MEMBER, text_or_action_id="Approve")
    texts = told(standin, "C0OPS", card.ts, "applied and verified")
    wait_until(lambda: bot.runtime.idle(), what="everything delivered")
    bot.runtime.outbox.deliver_due()
    texts = [m.blocks[0]["text"]["text"] for m in notices(standin, "C0OPS", card.ts)]
    assert len(texts) == 3 and "(1 of 2)" in texts[0]  # 1 of 2, approved, applied: each once
    assert f"was approved by <@{GROUP_MEMBER}> at" in texts[1] and "applied and verified" in texts[2]
