"""/smtp-enable end to end over real HTTP: signed requests in, Slack stand-in and sandbox tenant out."""

from __future__ import annotations

import concurrent.futures
import json
from datetime import timedelta

from slack_helpers import APPROVER, GROUP_MEMBER, OTHER, REQUESTER, sandbox_probes, top_level, wait_until

from bot.clock import FakeClock
from bot.config.sections import DatabaseConfig
from bot.store import Store

CLAIM_SECONDS = DatabaseConfig().claim_seconds  # app.yaml keeps the default


def exchange_cmdlets(sandbox) -> list[str]:
    return [r.cmdlet for r in sandbox.state.requests.for_service("exchange")]


def mailbox_value(sandbox, upn):
    return sandbox.state.tenant("contoso").user(upn).mailbox.smtp_client_authentication_disabled


def test_request_plan_refusals_approval_undo_and_audit(start_bot, sandbox, standin):
    bot = start_bot()
    ack = bot.sender.command("/smtp-enable", "copier@contoso.com", user_id=REQUESTER)
    assert ack.status_code == 200 and "Diagnosing SMTP AUTH for copier@contoso.com" in ack.text
    card = bot.card()
    assert "SMTP AUTH plan for copier@contoso.com" in str(card.blocks)
    assert {b.text for b in bot.sender.buttons("C0OPS", card.ts)} >= {"Approve", "Deny"}
    [request] = bot.runtime.store.requests.list()
    [step] = bot.runtime.store.requests.get_steps(request.id)

    sandbox.state.requests.clear()
    bot.sender.click_button("C0OPS", card.ts, user_id=OTHER, text_or_action_id="Approve")
    wait_until(lambda: any("Only the configured approvers" in t for t in bot.ephemeral_texts()), what="refusal")
    bot.sender.click_button("C0OPS", card.ts, user_id=REQUESTER, text_or_action_id="Approve")
    wait_until(lambda: any("someone else must approve" in t for t in bot.ephemeral_texts()), what="self refusal")
    assert bot.runtime.store.requests.get_step(step.id).state == "pending"
    assert sandbox.state.requests.for_service("exchange") == []

    bot.sender.click_button("C0OPS", card.ts, user_id=APPROVER, text_or_action_id="Approve")
    updated = bot.wait_card(lambda blocks: "Undo" in blocks, what="verified card with Undo")
    assert exchange_cmdlets(sandbox) == ["Get-CASMailbox", "Set-CASMailbox", "Get-CASMailbox"]
    assert sandbox.state.requests.for_service("graph") == []
    assert mailbox_value(sandbox, "copier@contoso.com") is False
    assert f"<@{APPROVER}>" in str(updated.blocks)
    assert len(top_level(standin, "C0OPS")) == 1  # one card, updated in place
    assert bot.runtime.store.requests.get(request.id).message_ts == card.ts

    bot.sender.click_button("C0OPS", card.ts, user_id=REQUESTER, text_or_action_id="step_undo")
    bot.wait_card(lambda blocks: "undo_approve" in blocks, what="undo pending")
    bot.sender.click_button("C0OPS", card.ts, user_id=GROUP_MEMBER, text_or_action_id="undo_approve")
    wait_until(lambda: bot.runtime.store.requests.get_step(step.id).state == "reverted", what="reverted")
    assert mailbox_value(sandbox, "copier@contoso.com") is None  # back to inheriting

    actions = [(r.actor, r.action) for r in bot.runtime.store.requests.audit_rows(request_id=request.id)]
    assert actions[0] == (REQUESTER, "request.created")
    assert (OTHER, "step.refused") in actions and (REQUESTER, "step.refused") in actions
    assert (APPROVER, "step.approved") in actions and (GROUP_MEMBER, "undo.approved") in actions
    assert [a for _, a in actions][-2:] == ["undo.applied", "undo.verified"]
    dumped = json.dumps([r.__repr__() for r in bot.runtime.store.requests.audit_rows()])
    assert "xoxb-" not in dumped and sandbox.creds()[2] not in dumped


def test_fifty_concurrent_clicks_apply_once(start_bot, sandbox):
    bot = start_bot()
    bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=REQUESTER)
    card = bot.card()
    [button] = [b for b in bot.sender.buttons("C0OPS", card.ts) if b.text == "Approve"]
    sandbox.state.requests.clear()
    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda n: bot.sender.click(button.action_id, button.value, user_id=APPROVER,
                                                           message_ts=card.ts), range(50)))
    assert all(a.status_code == 200 for a in answers)
    bot.wait_card(lambda blocks: "Undo" in blocks, what="verified card")
    wait_until(lambda: bot.runtime.idle(), what="all clicks handled")
    assert exchange_cmdlets(sandbox).count("Set-CASMailbox") == 1


def test_bad_signatures_are_rejected_without_side_effects(start_bot, standin):
    bot = start_bot()
    body = bot.sender.command_body("/smtp-enable", "scanner@contoso.com", user_id=APPROVER)
    forged = bot.sender.sign(body, secret="not-the-secret")
    stale = bot.sender.sign(body, timestamp=bot.sender.stale_timestamp())
    for headers in (forged, stale, {"Content-Type": "application/x-www-form-urlencoded"}):
        assert bot.sender.raw(body, headers).status_code == 401
    assert bot.runtime.store.requests.list() == [] and standin.calls("chat.postMessage") == []


def test_a_retried_command_posts_one_plan(start_bot, standin):
    bot = start_bot()
    first = bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=REQUESTER, trigger_id="T1.trigger")
    retry = bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=REQUESTER, trigger_id="T1.trigger",
                               retry_num=1)
    duplicate = bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=REQUESTER,
                                   trigger_id="T1.trigger")
    assert {first.status_code, retry.status_code, duplicate.status_code} == {200}
    bot.card()
    wait_until(lambda: bot.runtime.idle(), what="work done")
    assert len(bot.runtime.store.requests.list()) == 1 and len(top_level(standin, "C0OPS")) == 1


def test_expired_approval_is_refused_and_the_card_says_so(start_bot, sandbox):
    bot = start_bot()
    bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=REQUESTER)
    card = bot.card()
    bot.clock.advance(61 * 60)
    bot.sender.click_button("C0OPS", card.ts, user_id=APPROVER, text_or_action_id="Approve")
    wait_until(lambda: any("expired" in t for t in bot.ephemeral_texts()), what="expiry notice")
    bot.wait_card(lambda blocks: "Expired" in blocks or "expired" in blocks, what="expired card")
    assert "Set-CASMailbox" not in exchange_cmdlets(sandbox)


def test_usage_and_unknown_user_get_an_ephemeral_answer(start_bot, standin):
    bot = start_bot()
    usage = bot.sender.command("/smtp-enable", "", user_id=REQUESTER)
    assert usage.status_code == 200 and "/smtp-enable" in usage.text and "@" in usage.text
    malformed = bot.sender.command("/smtp-enable", "scanner at contoso", user_id=REQUESTER)
    assert "/smtp-enable" in malformed.text
    bot.sender.command("/smtp-enable", "ghost@contoso.com", user_id=REQUESTER)
    wait_until(lambda: any("No user 'ghost@contoso.com'" in t for t in bot.ephemeral_texts()), what="not found")
    [closed] = bot.runtime.store.requests.list()  # stored, then closed with the error; no card
    assert closed.state == "closed" and top_level(standin, "C0OPS") == []


def test_missing_permission_shows_on_the_card_and_retry_goes_through_the_gate(start_bot, sandbox):
    _, client_id, _ = sandbox.creds()
    sandbox.state.revoke(client_id, "Exchange Administrator")
    sandbox.state.grant(client_id, "Global Reader")  # reads work, writes need Exchange Administrator
    bot = start_bot()
    bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=REQUESTER)
    card = bot.card()
    bot.sender.click_button("C0OPS", card.ts, user_id=APPROVER, text_or_action_id="Approve")
    failed = bot.wait_card(lambda blocks: "step_retry" in blocks, what="failed card")
    assert "Exchange Recipient Administrator" in str(failed.blocks)
    bot.sender.click_button("C0OPS", card.ts, user_id=REQUESTER, text_or_action_id="step_retry")
    bot.wait_card(lambda blocks: "step_approve" in blocks, what="pending again")


def test_explain_and_status_commands(start_bot):
    bot = start_bot()
    explained = bot.sender.command("/smtp-explain", "535 5.7.139 Authentication unsuccessful, basic "
                                   "authentication is disabled. [AB1PR01CA0001.eurprd01.prod.outlook.com]")
    assert explained.status_code == 200 and "basic_auth_disabled_policy" in explained.text
    bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=REQUESTER)
    bot.card()
    bot.sender.command("/smtp-status", "", user_id=OTHER)
    wait_until(lambda: any("scanner@contoso.com" in json.dumps(r.payload) for r in bot.standin.responses()),
               what="status answer")


def test_app_home_lists_pending_approvals_for_an_approver(start_bot, standin):
    bot = start_bot()
    bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=REQUESTER)
    bot.card()
    bot.sender.app_home_opened(user_id=APPROVER)
    view = wait_until(lambda: standin.home(APPROVER), what="home view")
    assert "scanner@contoso.com" in json.dumps(view) and "step_approve" in json.dumps(view)


def test_healthz(start_bot):
    import requests

    bot = start_bot()
    assert requests.get(f"{bot.url}/healthz", timeout=5).json() == {"ok": True}
    assert requests.get(f"{bot.url}/nope", timeout=5).status_code == 404


def test_probe_command_runs_a_configured_target_and_explains_failures(start_bot, sandbox):
    bot = start_bot(probes=sandbox_probes(sandbox))
    unknown = bot.sender.command("/smtp-probe", "nope", user_id=OTHER)
    assert "No probe target 'nope'" in unknown.text and "printer" in unknown.text
    assert "Probing printer" in bot.sender.command("/smtp-probe", "printer", user_id=OTHER).text
    wait_until(lambda: any("SMTP AUTH works" in json.dumps(r.payload) for r in bot.standin.responses()),
               what="probe answer")
    sandbox.state.tenant("contoso").user("printer@contoso.com").mailbox.smtp_client_authentication_disabled = True
    bot.sender.command("/smtp-probe", "printer@contoso.com", user_id=OTHER)
    wait_until(lambda: any("smtp_auth_disabled_mailbox" in json.dumps(r.payload) for r in bot.standin.responses()),
               what="failure explained")
    history = bot.runtime.store.probes.history("printer")
    assert [h.ok for h in history] == [True, False] and history[-1].cause == "smtp_auth_disabled_mailbox"
    assert "Printer-Sandbox-1" not in json.dumps([r.payload for r in bot.standin.responses()])


def test_a_blocked_plan_offers_its_changes_only_after_an_approver_chooses_apply_anyway(start_bot, sandbox):
    sandbox.state.tenant("contoso").user("copier@contoso.com").authentication_policy = "Block Basic Auth"
    bot = start_bot()
    bot.sender.command("/smtp-enable", "copier@contoso.com", user_id=REQUESTER)
    card = bot.card()
    assert "The proposed changes will not be enough" in str(card.blocks)
    assert {b.text for b in bot.sender.buttons("C0OPS", card.ts)} == {"Apply anyway"}
    [request] = bot.runtime.store.requests.list()
    [step] = bot.runtime.store.requests.get_steps(request.id)
    held = bot.runtime.workflow.decide(step.id, APPROVER, approve=True)  # a forged Approve click
    assert held.kind == "refused" and "Apply anyway" in held.message

    bot.sender.click_button("C0OPS", card.ts, user_id=REQUESTER, text_or_action_id="Apply anyway")
    wait_until(lambda: any("someone else must approve" in t for t in bot.ephemeral_texts()), what="self refusal")
    bot.sender.click_button("C0OPS", card.ts, user_id=APPROVER, text_or_action_id="Apply anyway")
    bot.wait_card(lambda blocks: "chose to apply them anyway" in blocks, what="card offering the steps")
    assert bot.runtime.store.requests.get_step(step.id).state == "pending"  # nothing approved by that click

    bot.sender.click_button("C0OPS", card.ts, user_id=APPROVER, text_or_action_id="Approve")
    wait_until(lambda: bot.runtime.store.requests.get_step(step.id).state == "verified", what="verified")
    assert mailbox_value(sandbox, "copier@contoso.com") is False
    actions = [(r.actor, r.action) for r in bot.runtime.store.requests.audit_rows(request_id=request.id)]
    assert (REQUESTER, "request.apply_anyway_refused") in actions
    assert actions.index((APPROVER, "request.apply_anyway")) < actions.index((APPROVER, "step.approved"))


def test_a_command_a_stop_left_diagnosing_is_planned_at_start_up_and_its_card_posted(start_bot, bot_db_url):
    clock = FakeClock()
    store = Store(bot_db_url, clock=clock)  # the stopped process, on the same clock as the one that starts
    store.migrate()
    store.requests.receive("scanner@contoso.com", REQUESTER, "C0OPS", timedelta(hours=1),
                           {"auth_mode": "basic", "include_org": False})
    store.close()
    clock.advance(CLAIM_SECONDS + 1)  # older than a claim: in no live replica's queue
    bot = start_bot(clock=clock)
    card = bot.wait_card(lambda blocks: "step_approve" in blocks, what="resumed plan card")
    assert "SMTP AUTH plan for scanner@contoso.com" in str(card.blocks)
    [request] = bot.runtime.store.requests.list()
    assert request.state == "planned" and request.requester == REQUESTER


def test_a_command_stored_just_before_start_up_is_left_to_the_queue_that_may_hold_it_until_a_claim_old(
        start_bot, bot_db_url, standin):
    clock = FakeClock()
    store = Store(bot_db_url, clock=clock)  # another replica acked it and queued it
    store.migrate()
    request_id = store.requests.receive("scanner@contoso.com", REQUESTER, "C0OPS", timedelta(hours=1),
                                        {"auth_mode": "basic", "include_org": False})
    store.close()
    clock.advance(1)
    bot = start_bot(clock=clock)
    wait_until(bot.runtime.idle, what="start-up done")
    assert bot.runtime.store.requests.get(request_id).state == "diagnosing" and standin.messages("C0OPS") == []
    clock.advance(CLAIM_SECONDS)  # that replica never got to it (it died): the sweep takes it over
    bot.runtime.settle_orphans()
    card = bot.wait_card(lambda blocks: "step_approve" in blocks, what="resumed plan card")
    assert "SMTP AUTH plan for scanner@contoso.com" in str(card.blocks)


def test_a_command_refused_by_a_full_queue_is_stored_and_planned_once_there_is_room(start_bot, sandbox, standin):
    bot = start_bot(server={"diagnoses": {"queue": 1, "at_once": 1, "batch": 1, "window_ms": 0}})
    held = sandbox.state.faults.add("latency", service="graph", path=r"\$batch$", seconds=0.3, times=1)
    first = bot.sender.command("/smtp-enable", "scanner@contoso.com", user_id=REQUESTER, trigger_id="T1")
    wait_until(lambda: held.fired == 1, what="the first diagnosis under way")  # it holds the only runner
    second = bot.sender.command("/smtp-enable", "copier@contoso.com", user_id=REQUESTER, trigger_id="T2")
    third = bot.sender.command("/smtp-enable", "erp@contoso.com", user_id=REQUESTER, trigger_id="T3")
    assert "Diagnosing SMTP AUTH for scanner" in first.text and "Diagnosing SMTP AUTH for copier" in second.text
    assert "queue is full" in third.text and "erp@contoso.com" in third.text
    wait_until(lambda: len(standin.messages("C0OPS")) == 3, what="three plan cards")
    wait_until(lambda: bot.runtime.idle(), what="work done")
    assert sorted(r.upn for r in bot.runtime.store.requests.list() if r.state != "diagnosing") == [
        "copier@contoso.com", "erp@contoso.com", "scanner@contoso.com"]
    assert len(standin.messages("C0OPS")) == 3
