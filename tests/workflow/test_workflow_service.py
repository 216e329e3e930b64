"""The approval gate and exactly-once execution, against the sandbox tenant and a real database."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy.exc import OperationalError
from workflow_helpers import APPROVER, GROUP_MEMBER, OTHER, REQUESTER, mailbox_value, set_casmailbox_calls

import bot.workflow.service as service
from bot.errors import NotAllowed, StoreUnavailable, UserNotFound
from bot.slack import ids
from bot.slack.blocks import plan_card
from bot.workflow.model import BOT_ACTOR, STEP_TRANSITIONS, OutcomeKind, StepState
from handlers import CHECKS


def test_request_approve_apply_verify_undo(make_workflow, sandbox, store):
    flow = make_workflow()
    view = flow.open_request("copier@contoso.com", REQUESTER, "C0OPS")
    [step] = view.steps
    assert step.state == "pending" and step.handler_key == "mailbox_smtp_auth"
    assert step.proposed["current"] is None and step.proposed["proposed"] is False

    assert flow.decide(step.id, OTHER, approve=True).kind == "refused"
    refused = flow.decide(step.id, REQUESTER, approve=True)
    assert refused.kind == "refused" and "someone else" in refused.message
    assert store.requests.get_step(step.id).state == "pending"

    outcome = flow.decide(step.id, APPROVER, approve=True)
    assert outcome.kind == "approved" and outcome.run
    sandbox.state.requests.clear()
    done = flow.run(step.id)
    assert done.state == "verified" and done.before is None and done.after is False
    assert mailbox_value(sandbox, "copier@contoso.com") is False
    assert len(set_casmailbox_calls(sandbox)) == 1

    assert flow.request_undo(step.id, REQUESTER).kind == "undo_requested"
    assert flow.decide(step.id, REQUESTER, approve=True).kind == "refused"  # asked for the undo
    assert flow.decide(step.id, APPROVER, approve=True).kind == "undo_approved"
    assert flow.run(step.id).state == "reverted"
    assert mailbox_value(sandbox, "copier@contoso.com") is None  # "inherit" restored, not "disabled"

    actions = [(r.actor, r.action) for r in store.requests.audit_rows(request_id=view.request.id)]
    assert actions == [
        (REQUESTER, "request.created"), (BOT_ACTOR, "request.planned"), (OTHER, "step.refused"), (REQUESTER, "step.refused"),
        (APPROVER, "step.approved"), ("smtp-auth-bot", "step.applying"), ("smtp-auth-bot", "step.applied"),
        ("smtp-auth-bot", "step.verified"), (REQUESTER, "undo.requested"), (REQUESTER, "undo.refused"),
        (APPROVER, "undo.approved"), ("smtp-auth-bot", "undo.applied"), ("smtp-auth-bot", "undo.verified"),
    ]
    applied = next(r for r in store.requests.audit_rows(request_id=view.request.id) if r.action == "step.applied")
    assert applied.before["before"] is None and applied.after["after"] is False
    undo = next(r for r in store.requests.audit_rows(request_id=view.request.id) if r.action == "undo.applied")
    assert (undo.before, undo.after) == (False, None)
    assert flow.changed.count(view.request.id) >= 6


def test_the_stored_steps_and_advisories_carry_their_microsoft_docs(make_workflow):
    view = make_workflow().open_request("erp@contoso.com", REQUESTER, "C0OPS")
    [step] = view.steps
    assert step.proposed["docs"] == "https://learn.microsoft.com/entra/identity/authentication/howto-mfa-userstates"
    assert {f["key"]: f["docs"] for f in view.plan["advisories"]} == {
        "conditional_access": CHECKS["conditional_access"].docs,
        "basic_auth_retirement": CHECKS["basic_auth_retirement"].docs,
    }


def test_group_member_approves_and_first_decision_wins(make_workflow, store):
    flow = make_workflow()
    [step] = flow.open_request("scanner@contoso.com", REQUESTER, "C0OPS").steps
    assert flow.decide(step.id, GROUP_MEMBER, approve=False).kind == "denied"
    late = flow.decide(step.id, APPROVER, approve=True)
    assert late.kind == "already" and f"<@{GROUP_MEMBER}>" in late.message and not late.run
    assert store.requests.get_step(step.id).state == "denied"


def test_requester_may_withdraw_but_self_approval_needs_the_switch(make_workflow):
    flow = make_workflow()
    [step] = flow.open_request("scanner@contoso.com", REQUESTER, "C0OPS").steps
    assert flow.decide(step.id, REQUESTER, approve=False).kind == "denied"
    solo = make_workflow(approvers=[REQUESTER], allow_self_approval=True)
    [step] = solo.open_request("erp@contoso.com", REQUESTER, "C0OPS").steps
    assert solo.decide(step.id, REQUESTER, approve=True).kind == "approved"


def test_expired_approval_is_refused(make_workflow, clock, store, sandbox):
    flow = make_workflow()
    [step] = flow.open_request("scanner@contoso.com", REQUESTER, "C0OPS").steps
    clock.advance(61 * 60)
    outcome = flow.decide(step.id, APPROVER, approve=True)
    assert outcome.kind == "expired" and "/smtp-enable scanner@contoso.com" in outcome.message
    assert store.requests.get_step(step.id).state == "expired" and not set_casmailbox_calls(sandbox)


def test_requesters_list_is_enforced(make_workflow):
    flow = make_workflow(requesters=["U0HELPDESK"])
    with pytest.raises(NotAllowed):
        flow.open_request("scanner@contoso.com", OTHER, "C0OPS")
    assert flow.open_request("scanner@contoso.com", "U0HELPDESK", "C0OPS").steps


def test_unknown_user_raises_and_closes_the_request_with_the_error(make_workflow, store):
    with pytest.raises(UserNotFound):
        make_workflow().open_request("ghost@contoso.com", REQUESTER, "C0OPS")
    [request] = store.requests.list()
    assert request.state == "closed" and "ghost@contoso.com" in request.diagnosis["plan"]["error"]
    assert [r.action for r in store.requests.audit_rows()] == ["request.created", "request.diagnosis_failed"]


def test_nothing_to_change_closes_the_request(make_workflow):
    view = make_workflow().open_request("printer@contoso.com", REQUESTER, "C0OPS")
    assert view.steps == () and view.request.state == "closed" and view.plan["healthy"]


def test_fifty_concurrent_approvals_apply_once(make_workflow, sandbox, store):
    flow = make_workflow()
    [step] = flow.open_request("scanner@contoso.com", REQUESTER, "C0OPS").steps
    barrier = threading.Barrier(50)
    outcomes = []

    def click(n: int) -> None:
        barrier.wait()
        outcome = flow.decide(step.id, APPROVER if n % 2 else GROUP_MEMBER, approve=True)
        outcomes.append(outcome.kind)
        if outcome.run:
            flow.run(step.id)
        else:
            flow.execute(step.id)  # a stray retry of the execution must not apply twice either

    threads = [threading.Thread(target=click, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("approved") == 1 and outcomes.count("already") == 49
    assert len(set_casmailbox_calls(sandbox)) == 1
    assert store.requests.get_step(step.id).state == "verified"
    approvals = [r for r in store.requests.audit_rows(request_id=step.request_id) if r.action == "step.approved"]
    assert len(approvals) == 1


def test_failure_names_the_permission_and_retry_goes_through_the_gate(make_workflow, sandbox, store):
    _, client_id, _ = sandbox.creds("fabrikam")
    sandbox.state.revoke(client_id, "Policy.ReadWrite.SecurityDefaults")
    flow = make_workflow("fabrikam")
    [step] = flow.open_request("mfp@fabrikam.com", REQUESTER, "C0OPS").steps
    flow.decide(step.id, APPROVER, approve=True)
    assert flow.decide(step.id, GROUP_MEMBER, approve=True).run  # tenant-wide: a second approver
    failed = flow.run(step.id)
    assert failed.state == "failed" and "Policy.ReadWrite.SecurityDefaults" in failed.error
    assert sandbox.state.tenant("fabrikam").security_defaults_enabled is True

    assert flow.retry(step.id, OTHER).kind == "refused"
    assert flow.retry(step.id, REQUESTER).kind == "retry"
    assert store.requests.get_step(step.id).state == "pending"
    sandbox.state.grant(client_id, "Policy.ReadWrite.SecurityDefaults")
    fresh = make_workflow("fabrikam")  # a new token carries the granted permission
    assert fresh.decide(step.id, REQUESTER, approve=True).kind == "refused"
    assert fresh.decide(step.id, APPROVER, approve=True).kind == "approval_recorded"  # the retry's own approvals
    assert fresh.decide(step.id, GROUP_MEMBER, approve=True).run
    assert fresh.run(step.id).state == "verified"
    assert sandbox.state.tenant("fabrikam").security_defaults_enabled is False


def test_crash_between_claim_and_apply_is_settled_at_restart(make_workflow, sandbox, store, clock):
    flow = make_workflow()
    [scanner] = flow.open_request("scanner@contoso.com", REQUESTER, "C0OPS").steps
    [erp] = flow.open_request("erp@contoso.com", REQUESTER, "C0OPS").steps
    [copier] = flow.open_request("copier@contoso.com", REQUESTER, "C0OPS").steps
    for step in (scanner, erp, copier):
        flow.decide(step.id, APPROVER, approve=True)
    # scanner: claimed, then the process died before calling Microsoft.
    assert store.requests.transition_step(scanner.id, "approved", "applying", "smtp-auth-bot", "step.applying")
    # erp: claimed, the change reached Microsoft, then the process died before recording it.
    assert store.requests.transition_step(erp.id, "approved", "applying", "smtp-auth-bot", "step.applying")
    sandbox.state.tenant("contoso").user("erp@contoso.com").per_user_mfa_state = "disabled"
    # copier: approved, never run.

    restarted = make_workflow()
    assert restarted.recover() == []  # while the approver's process may be alive, its claims keep others away
    assert store.requests.get_step(scanner.id).state == "applying"
    clock.advance(flow.claims.ttl.total_seconds())  # it is dead: its claims run out
    to_run = restarted.recover()
    assert store.requests.get_step(scanner.id).state == "failed" and "nothing changed" in store.requests.get_step(scanner.id).error
    assert store.requests.get_step(erp.id).state == "verified"
    assert to_run == [copier.id]
    assert restarted.run(copier.id).state == "verified"
    assert not set_casmailbox_calls(sandbox)[:-1]  # only copier's one apply reached Exchange
    assert mailbox_value(sandbox, "scanner@contoso.com") is True  # untouched


def test_undo_request_expires(make_workflow, clock, store):
    flow = make_workflow()
    [step] = flow.open_request("scanner@contoso.com", REQUESTER, "C0OPS").steps
    flow.decide(step.id, APPROVER, approve=True)
    flow.run(step.id)
    flow.request_undo(step.id, REQUESTER)
    clock.advance(2 * 3600)
    assert flow.decide(step.id, APPROVER, approve=True).kind == "expired"
    assert store.requests.get_step(step.id).state == "verified"


def test_recovery_survives_microsoft_being_down_and_settles_later(make_workflow, sandbox, store, clock):
    flow = make_workflow()
    [step] = flow.open_request("scanner@contoso.com", REQUESTER, "C0OPS").steps
    flow.decide(step.id, APPROVER, approve=True)
    assert store.requests.transition_step(step.id, "approved", "applying", "smtp-auth-bot", "step.applying")
    clock.advance(flow.claims.ttl.total_seconds())  # the process died: its claims run out
    outage = sandbox.state.faults.add("status", service="exchange", status=500, times=None)
    assert make_workflow().recover() == []  # no crash at start-up; the step waits
    assert store.requests.get_step(step.id).state == "applying"
    sandbox.state.faults.remove(outage.id)
    make_workflow().recover()
    assert store.requests.get_step(step.id).state == "failed"


def test_a_full_run_moves_only_along_the_table_and_undo_records_who_asked(make_workflow, store, clock):
    flow = make_workflow()
    [step] = flow.open_request("copier@contoso.com", REQUESTER, "C0OPS").steps
    flow.decide(step.id, APPROVER, approve=True)
    flow.run(step.id)
    clock.advance(60)
    flow.request_undo(step.id, REQUESTER)
    asked = store.requests.get_step(step.id)
    assert (asked.undo_requested_by, asked.undo_requested_at) == (REQUESTER, clock.now())
    assert flow.decide(step.id, REQUESTER, approve=True).kind == OutcomeKind.REFUSED
    flow.decide(step.id, APPROVER, approve=True)
    flow.run(step.id)
    moves = [(r.before["state"], r.after["state"], r.action) for r in store.requests.audit_rows()
             if r.step_id == step.id and r.after and "state" in r.after]
    assert moves == [
        ("pending", "approved", "step.approved"), ("approved", "applying", "step.applying"),
        ("applying", "applied", "step.applied"), ("applied", "verified", "step.verified"),
        ("verified", "revert_pending", "undo.requested"), ("revert_pending", "reverting", "undo.approved"),
        ("reverting", "reverted", "undo.verified"),
    ]
    assert all((StepState(a), StepState(b)) in STEP_TRANSITIONS for a, b, _ in moves)


def test_queries_show_each_viewer_what_waits_for_them(make_workflow):
    flow = make_workflow()
    mine = flow.open_request("copier@contoso.com", REQUESTER, "C0OPS")
    healthy = flow.open_request("printer@contoso.com", OTHER, "C0OPS")
    assert [v.request.id for v in flow.pending_for(APPROVER)] == [mine.request.id]
    assert [v.request.id for v in flow.pending_for(REQUESTER)] == [mine.request.id]
    assert flow.pending_for(OTHER) == []
    assert [v.request.id for v in flow.requests_for("copier@contoso.com")] == [mine.request.id]
    assert flow.requests_for("printer@contoso.com") == []  # nothing to change: closed at once
    assert [v.request.id for v in flow.requests_for("printer@contoso.com", open_only=False)] == [healthy.request.id]
    assert {v.request.id for v in flow.recent()} == {mine.request.id, healthy.request.id}
    assert flow.is_approver(GROUP_MEMBER) and not flow.is_approver(OTHER)
    assert flow.find("CR-NOSUCH") is None


def test_approve_all_decides_and_runs_every_pending_step(make_workflow, store):
    flow = make_workflow()
    view = flow.open_request("copier@contoso.com", REQUESTER, "C0OPS")
    assert [o.kind for o in flow.approve_all(view.request.id, REQUESTER)] == [OutcomeKind.REFUSED]
    assert [o.kind for o in flow.approve_all(view.request.id, APPROVER)] == [OutcomeKind.APPROVED]
    assert [s.state for s in flow.view(view.request.id).steps] == [StepState.VERIFIED]
    assert flow.approve_all(view.request.id, APPROVER) == []
    assert store.requests.audit_rows()[-1].actor == BOT_ACTOR


def _card(view) -> tuple[str, list[tuple[str, str]]]:
    """The plan card's text and its buttons as (action id, value)."""
    blocks = plan_card(view, now=view.request.created_at)["blocks"]
    found = [(e["action_id"], e["value"]) for b in blocks if b["type"] == "actions" for e in b["elements"]]
    return json.dumps(blocks), found


def test_a_mailbox_check_exchange_will_not_answer_is_never_called_healthy(make_workflow, sandbox, store):
    sandbox.state.faults.add("status", service="exchange", cmdlet="Get-CASMailbox", status=503, times=None)
    view = make_workflow().open_request("printer@contoso.com", REQUESTER, "C0OPS")
    assert not view.plan["healthy"] and "mailbox_smtp_auth" in view.plan["unreadable"]
    assert view.request.state == "closed"
    assert store.requests.audit_rows(request_id=view.request.id)[-1].action == "request.unreadable"
    text, clicks = _card(view)
    assert "Nothing to change" not in text and "Not fully checked" in text
    assert "Not fully checked*: Account and mailbox, SMTP AUTH for this mailbox could not be read" in text
    assert "SMTP AUTH for this mailbox* (could not be checked)" in text and "HTTP 503" in text
    assert clicks == [(ids.ACTION_DIAGNOSE_AGAIN, view.request.id)]


def test_a_single_server_error_on_a_read_is_retried_and_the_plan_is_right(make_workflow, sandbox, clock):
    sandbox.state.faults.add("status", service="exchange", cmdlet="Get-CASMailbox", status=500)
    view = make_workflow().open_request("printer@contoso.com", REQUESTER, "C0OPS")
    assert view.plan["healthy"] and view.plan["unreadable"] == [] and view.request.state == "closed"
    cas = [r.status for r in sandbox.state.requests.for_service("exchange") if r.cmdlet == "Get-CASMailbox"]
    assert cas == [500, 200] and len(clock.sleeps) == 1  # the same read again after a backoff



def test_start_up_resumes_a_request_a_stop_left_diagnosing_into_a_plan_with_a_card(make_workflow, store, clock):
    received = make_workflow().receive("scanner@contoso.com", REQUESTER, "C0OPS", auth_mode="oauth")
    clock.advance(1)
    ghost = make_workflow().receive("ghost@contoso.com", REQUESTER, "C0OPS")
    assert store.requests.get(received).state == "diagnosing"  # the process stopped here
    restarted = make_workflow()
    ttl = restarted.claims.ttl
    # a sweep leaves requests younger than a claim alone: they may be waiting in a live process's queue
    assert restarted.resume(stored_before=clock.now() - ttl) == []
    clock.advance(ttl.total_seconds())
    assert restarted.resume(stored_before=clock.now() - ttl) == [received, ghost]
    view = restarted.view(received)
    assert view.request.state == "planned" and view.request.options["auth_mode"] == "oauth"
    assert [s.state for s in view.steps] == ["pending"] and restarted.changed == [received, ghost]
    text, clicks = _card(view)
    assert "1 change needed" in text and (ids.ACTION_APPROVE, str(view.steps[0].id)) in clicks
    failed = restarted.view(ghost)
    assert failed.request.state == "closed" and "ghost@contoso.com" in _card(failed)[0]
    assert restarted.resume() == []


def test_a_request_whose_card_cannot_be_delivered_is_withdrawn_once_and_never_diagnosed(make_workflow, store):
    flow = make_workflow()
    request_id = flow.receive("scanner@contoso.com", REQUESTER, "D0SOMEONE")

    assert flow.withdraw(request_id, "I am not in this conversation.")
    assert not flow.withdraw(request_id, "again")
    request = store.requests.get(request_id)
    assert request.state == "closed" and request.diagnosis["plan"]["error"] == "I am not in this conversation."
    assert flow.resume() == []
    assert [r.action for r in store.requests.audit_rows(request_id=request_id)][-1] == "request.undeliverable"


def _graph_batches(sandbox, version: str) -> int:
    return sum(1 for r in sandbox.state.requests.for_service("graph")
               if r.path.endswith("$batch") and r.api_version == version)


def test_requests_received_together_are_diagnosed_with_one_bulk_read(make_workflow, store, sandbox):
    flow = make_workflow()
    scanner = flow.receive("scanner@contoso.com", REQUESTER, "C0OPS", auth_mode="oauth")
    copier = flow.receive("copier@contoso.com", OTHER, "C0OPS")
    ghost = flow.receive("ghost@contoso.com", REQUESTER, "C0OPS")
    sandbox.state.requests.clear()
    results = flow.diagnose_requests([scanner, copier, ghost])
    assert _graph_batches(sandbox, "v1.0") == 1 and _graph_batches(sandbox, "beta") == 1
    cmdlets = [r.cmdlet for r in sandbox.state.requests.for_service("exchange")]
    assert cmdlets.count("Get-User") == 1 and cmdlets.count("Get-CASMailbox") == 1
    assert results[scanner].request.state == "planned" and results[scanner].request.options["auth_mode"] == "oauth"
    assert results[copier].request.state == "planned" and results[copier].request.requester == OTHER
    assert isinstance(results[ghost], UserNotFound) and store.requests.get(ghost).state == "closed"
    assert flow.diagnose_requests([scanner])[scanner].request.state == "planned"  # done: nothing read again


def test_when_the_shared_read_fails_each_request_is_diagnosed_alone(make_workflow, sandbox):
    flow = make_workflow()
    received = [flow.receive(upn, REQUESTER, "C0OPS") for upn in ("scanner@contoso.com", "copier@contoso.com")]
    sandbox.state.faults.add("status", service="graph", path=r"\$batch$", status=400, times=1)
    results = flow.diagnose_requests(received)
    assert [results[r].request.state for r in received] == ["planned", "planned"]
    assert _graph_batches(sandbox, "v1.0") == 3  # the shared one refused, then one per request


def test_a_plan_that_fails_unexpectedly_closes_its_request_and_no_sweep_reads_it_again(make_workflow, store, clock,
                                                                                       sandbox, monkeypatch):
    real = service.make_plan

    def buggy(diagnosis, **options):
        if diagnosis.upn.startswith("scanner"):
            raise TypeError("a bug in planning")
        return real(diagnosis, **options)

    monkeypatch.setattr(service, "make_plan", buggy)
    flow = make_workflow()
    broken, fine = (flow.receive(upn, REQUESTER, "C0OPS") for upn in ("scanner@contoso.com", "copier@contoso.com"))
    results = flow.diagnose_requests([broken, fine])
    assert isinstance(results[broken], TypeError) and results[fine].request.state == "planned"
    closed = store.requests.get(broken)
    assert closed.state == "closed" and closed.diagnosis["plan"]["error"] == service.UNEXPECTED
    assert [r.action for r in store.requests.audit_rows(request_id=broken)][-1] == "request.diagnosis_failed"
    clock.advance(flow.claims.ttl.total_seconds())
    sandbox.state.requests.clear()
    assert flow.resume(stored_before=clock.now() - flow.claims.ttl) == []  # the sweep: nothing left to resume
    assert sandbox.state.requests.for_service("exchange") == []  # Microsoft is not read again


def test_a_plan_the_database_could_not_store_keeps_its_request_for_a_sweep(make_workflow, store, monkeypatch):
    flow = make_workflow()
    request_id = flow.receive("scanner@contoso.com", REQUESTER, "C0OPS")
    real = store.requests.plan

    def unreachable(*args, **kwargs):
        raise OperationalError("UPDATE change_requests", {}, Exception("server closed the connection"))

    monkeypatch.setattr(store.requests, "plan", unreachable)
    result = flow.diagnose_requests([request_id])[request_id]
    assert isinstance(result, StoreUnavailable)
    monkeypatch.setattr(store.requests, "plan", real)
    assert store.requests.get(request_id).state == "diagnosing"  # the sweep resumes it once the database is back
    assert flow.resume() == [request_id] and store.requests.get(request_id).state == "planned"


def test_a_redelivered_command_is_stored_once_in_one_write(make_workflow, store):
    flow = make_workflow()
    first = flow.receive("scanner@contoso.com", REQUESTER, "C0OPS", trigger_id="13345.98.abc")
    assert first is not None
    assert flow.receive("scanner@contoso.com", REQUESTER, "C0OPS", trigger_id="13345.98.abc") is None
    other = flow.receive("scanner@contoso.com", REQUESTER, "C0OPS", trigger_id="13346.98.def")
    assert other not in (None, first)
    assert [r.id for r in store.requests.list()].count(first) == 1 and len(store.requests.list()) == 2
    assert [r.action for r in store.requests.audit_rows(request_id=first)] == ["request.created"]


def test_outcome_times_are_written_by_the_formatter_the_slack_layer_gives(make_workflow, clock):
    flow = make_workflow()
    assert flow.show_time(clock.now()).endswith(" UTC")  # the default: plain UTC text, for any caller
    flow.show_time = lambda moment: f"<time {moment:%H:%M}>"
    view = flow.open_request("scanner@contoso.com", REQUESTER, "C0OPS")
    clock.advance(61 * 60)
    outcome = flow.decide(view.steps[0].id, APPROVER, approve=True)
    assert outcome.message.startswith(f"This approval expired at <time {view.request.expires_at:%H:%M}>.")


def test_who_denied_or_approved_an_undo_and_when_is_kept_on_the_step(make_workflow, store, clock):
    flow = make_workflow()
    [step] = flow.open_request("copier@contoso.com", REQUESTER, "C0OPS").steps
    flow.decide(step.id, APPROVER, approve=True)
    flow.run(step.id)
    assert flow.request_undo(step.id, REQUESTER).kind == "undo_requested"
    clock.advance(60)
    assert flow.decide(step.id, GROUP_MEMBER, approve=False).kind == "undo_denied"
    denied = store.requests.get_step(step.id)
    assert (denied.state, denied.undo_requested_by, denied.undo_decided_by) == ("verified", REQUESTER, GROUP_MEMBER)
    assert denied.undo_decided_at == clock.now() and denied.approvals is None
    assert (denied.decided_by, denied.decided_at < clock.now()) == (APPROVER, True)  # the change's own approval stays

    clock.advance(60)
    assert flow.request_undo(step.id, REQUESTER).kind == "undo_requested"
    asked = store.requests.get_step(step.id)
    assert (asked.undo_decided_by, asked.undo_decided_at, asked.undo_requested_at) == (None, None, clock.now())
    clock.advance(60)
    assert flow.decide(step.id, APPROVER, approve=True).kind == "undo_approved"
    flow.run(step.id)
    undone = store.requests.get_step(step.id)
    assert (undone.state, undone.undo_decided_by, undone.undo_decided_at) == ("reverted", APPROVER, clock.now())
    assert undone.approvals == (APPROVER,)


def test_a_resumed_request_whose_channel_cannot_take_its_card_is_closed_unread(make_workflow, store, clock, sandbox):
    """Requests `resume` takes up were never checked by a listener (a full queue's, a dead process's): one for a
    conversation the bot is not in is closed with the reason, and Microsoft is not asked about it."""
    stopped = make_workflow()
    lost = stopped.receive("scanner@contoso.com", REQUESTER, "D0SOMEONE")
    kept = stopped.receive("copier@contoso.com", REQUESTER, "C0OPS")
    restarted = make_workflow()
    asked: list[str] = []
    restarted.undeliverable = lambda channel: asked.append(channel) or ("not in it" if channel == "D0SOMEONE" else None)
    sandbox.state.requests.clear()
    clock.advance(restarted.claims.ttl.total_seconds())

    assert sorted(restarted.resume(stored_before=clock.now())) == sorted([lost, kept])

    assert sorted(asked) == ["C0OPS", "D0SOMEONE"]  # once per channel
    closed = store.requests.get(lost)
    assert closed.state == "closed" and closed.diagnosis == {"plan": {"upn": "scanner@contoso.com",
                                                                      "error": "not in it"}}  # never diagnosed
    assert store.requests.get(kept).state == "planned"
    assert [a.action for a in store.requests.audit_rows(request_id=lost)][-1] == "request.undeliverable"
