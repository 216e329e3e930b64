"""Execution against what Microsoft really did: crashes while verifying, writes that land but fail to answer."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from workflow_helpers import APPROVER, GROUP_MEMBER, REQUESTER, mailbox_value, set_casmailbox_calls

import bot.workflow.execution as execution
from bot.runtime import Runtime
from bot.workflow.model import BOT_ACTOR, StepState

S = StepState


def left_applied(flow, store, upn: str, before, after) -> int:
    """A step the bot applied and then died while verifying: the card says "verifying…" with no buttons."""
    [step] = flow.open_request(upn, REQUESTER, "C0OPS").steps
    flow.decide(step.id, APPROVER, approve=True)
    assert store.requests.transition_step(step.id, S.APPROVED, S.APPLYING, BOT_ACTOR, "step.applying")
    assert store.requests.transition_step(step.id, S.APPLYING, S.APPLIED, BOT_ACTOR, "step.applied",
                                          before=before, after=after)
    return step.id


def test_a_step_killed_while_verifying_is_settled_at_restart(make_workflow, sandbox, store, clock):
    flow = make_workflow()
    landed = left_applied(flow, store, "copier@contoso.com", None, False)
    sandbox.state.tenant("contoso").user("copier@contoso.com").mailbox.smtp_client_authentication_disabled = False
    lost = left_applied(flow, store, "scanner@contoso.com", True, False)  # accepted, yet not there
    clock.advance(flow.claims.ttl.total_seconds())  # the process died: its claims run out

    outage = sandbox.state.faults.add("status", service="exchange", status=500, times=None)
    assert make_workflow().recover() == []
    assert {store.requests.get_step(i).state for i in (landed, lost)} == {S.APPLIED}  # unreadable: waits
    sandbox.state.faults.remove(outage.id)

    restarted = make_workflow()
    restarted.recover()
    assert store.requests.get_step(landed).state == S.VERIFIED
    failed = store.requests.get_step(lost)
    assert failed.state == S.FAILED and "shows the old value" in failed.error
    assert [r.action for r in store.requests.audit_rows() if r.step_id in (landed, lost)][-2:] == [
        "step.recovered", "step.recovered"]

    assert restarted.retry(lost, REQUESTER).kind == "retry"  # the failed one can be retried...
    assert restarted.request_undo(landed, REQUESTER).kind == "undo_requested"  # ...the verified one undone
    assert restarted.decide(landed, APPROVER, approve=True).run
    assert restarted.run(landed).state == S.REVERTED
    assert mailbox_value(sandbox, "copier@contoso.com") is None


def approved(flow, upn: str) -> int:
    [step] = flow.open_request(upn, REQUESTER, "C0OPS").steps
    assert flow.decide(step.id, APPROVER, approve=True).run
    return step.id


def undo(flow, step_id: int) -> None:
    assert flow.request_undo(step_id, REQUESTER).kind == "undo_requested"
    assert flow.decide(step_id, APPROVER, approve=True).run
    assert flow.run(step_id).state == S.REVERTED


def test_a_set_casmailbox_applied_behind_a_503_is_verified_with_the_true_before(make_workflow, sandbox, store):
    flow = make_workflow()
    step_id = approved(flow, "scanner@contoso.com")
    sandbox.state.faults.add("status", service="exchange", cmdlet="Set-CASMailbox", status=503, times=None,
                             apply_first=True)
    done = flow.run(step_id)
    assert (done.state, done.before, done.after) == (S.VERIFIED, True, False)
    assert done.error.startswith("Applied after an error") and "503" in done.error
    [landed] = [r for r in store.requests.audit_rows(request_id=done.request_id)
                if r.action == "step.applied_after_error"]
    assert (landed.after["before"], landed.after["after"]) == (True, False)
    sandbox.state.faults.clear()
    undo(flow, step_id)
    assert mailbox_value(sandbox, "scanner@contoso.com") is True


def test_a_graph_patch_applied_behind_a_dropped_answer_is_verified_and_undone(make_workflow, sandbox, store):
    flow = make_workflow("fabrikam")
    [step] = flow.open_request("mfp@fabrikam.com", REQUESTER, "C0OPS").steps
    assert flow.decide(step.id, APPROVER, approve=True).kind == "approval_recorded"  # tenant-wide: two approvers
    assert flow.decide(step.id, GROUP_MEMBER, approve=True).run
    sandbox.state.faults.add("drop", service="graph", method="PATCH", times=None, apply_first=True)
    done = flow.run(step.id)
    assert (done.state, done.before, done.after) == (S.VERIFIED, True, False)
    assert sandbox.state.tenant("fabrikam").security_defaults_enabled is False
    sandbox.state.faults.clear()
    assert flow.request_undo(step.id, REQUESTER).kind == "undo_requested"
    assert flow.decide(step.id, APPROVER, approve=True).kind == "approval_recorded"
    assert flow.decide(step.id, GROUP_MEMBER, approve=True).run
    assert flow.run(step.id).state == S.REVERTED
    assert sandbox.state.tenant("fabrikam").security_defaults_enabled is True


def test_retry_after_an_unreadable_failure_keeps_the_original_before(make_workflow, sandbox, store):
    flow = make_workflow()
    step_id = approved(flow, "scanner@contoso.com")
    faults = sandbox.state.faults
    faults.add("latency", service="exchange", cmdlet="Get-CASMailbox")  # apply's own read passes
    faults.add("status", service="exchange", cmdlet="Set-CASMailbox", status=500, apply_first=True)
    outage = faults.add("status", service="exchange", cmdlet="Get-CASMailbox", status=500, times=None)
    failed = flow.run(step_id)
    assert failed.state == S.FAILED and "cannot tell whether Microsoft made the change" in failed.error
    assert mailbox_value(sandbox, "scanner@contoso.com") is False  # it did
    faults.remove(outage.id)

    assert flow.retry(step_id, REQUESTER).kind == "retry"
    assert flow.decide(step_id, APPROVER, approve=True).run
    done = flow.run(step_id)
    assert (done.state, done.before) == (S.VERIFIED, True)  # not the False the tenant showed at the retry
    undo(flow, step_id)
    assert mailbox_value(sandbox, "scanner@contoso.com") is True
    [undone] = [r for r in store.requests.audit_rows(request_id=done.request_id) if r.action == "undo.applied"]
    assert (undone.before, undone.after) == (False, True)


def test_a_real_failure_says_nothing_changed_and_a_changed_setting_is_not_overwritten(make_workflow, sandbox):
    flow = make_workflow()
    step_id = approved(flow, "scanner@contoso.com")
    sandbox.state.faults.add("status", service="exchange", cmdlet="Set-CASMailbox", status=500)
    failed = flow.run(step_id)
    assert failed.state == S.FAILED and failed.error.endswith("Reading the setting back shows nothing changed.")

    copier = approved(flow, "copier@contoso.com")  # planned from "not set"; someone disables it meanwhile
    sandbox.state.tenant("contoso").user("copier@contoso.com").mailbox.smtp_client_authentication_disabled = True
    sandbox.state.requests.clear()
    refused = flow.run(copier)
    assert refused.state == S.FAILED and "changed since the plan was made" in refused.error
    assert not set_casmailbox_calls(sandbox) and mailbox_value(sandbox, "copier@contoso.com") is True


def test_an_approved_undo_waiting_for_the_pool_is_left_to_its_process_and_then_runs(make_workflow, sandbox, store,
                                                                                    clock):
    a, b = make_workflow(), make_workflow()
    [step] = a.open_request("copier@contoso.com", REQUESTER, "C0OPS").steps
    before = mailbox_value(sandbox, "copier@contoso.com")
    assert a.decide(step.id, APPROVER, approve=True).run
    assert a.run(step.id).state == StepState.VERIFIED
    assert a.request_undo(step.id, REQUESTER).kind == "undo_requested"
    assert a.decide(step.id, APPROVER, approve=True).run  # its run now waits (telling the clicker, the pool)
    for _ in range(3):  # longer than a claim: a's heartbeat renews the approval's claim meanwhile
        clock.advance(a.claims.ttl.total_seconds() / 2)
        a.claims.renew()
        assert b.recover() == [] and a.recover() == []
        assert store.requests.get_step(step.id).state == StepState.REVERTING
    assert a.run(step.id).state == StepState.REVERTED
    assert mailbox_value(sandbox, "copier@contoso.com") == before
    assert a.claims.renew() == 0  # nothing left to renew


def test_a_step_whose_recovery_fails_unexpectedly_stops_neither_the_other_steps_nor_the_orphaned_requests(
        make_workflow, store, clock, monkeypatch):
    a = make_workflow()
    broken, fine = approved(a, "copier@contoso.com"), approved(a, "scanner@contoso.com")
    for step_id in (broken, fine):  # the process died while applying both...
        assert store.requests.transition_step(step_id, S.APPROVED, S.APPLYING, BOT_ACTOR, "step.applying")
    orphan = a.receive("printer@contoso.com", REQUESTER, "C0OPS")  # ...and before diagnosing this one
    clock.advance(a.claims.ttl.total_seconds() + 1)
    real = execution.remediation

    class Odd:  # reading the copier back meets an answer of a shape the handler does not expect
        def __init__(self, handler):
            self.handler = handler

        def __getattr__(self, name):
            return getattr(self.handler, name)

        def verify(self, m365, change):
            if change.target == "copier@contoso.com":
                raise KeyError("unexpected answer shape")
            return self.handler.verify(m365, change)

    monkeypatch.setattr(execution, "remediation", lambda key: Odd(real(key)))
    b = make_workflow()
    Runtime.settle_orphans(SimpleNamespace(_orphans=threading.Lock(), workflow=b, clock=clock))  # b's sweep
    assert store.requests.get_step(broken).state == S.APPLYING  # left for the next sweep
    settled = store.requests.get_step(fine)
    assert settled.state == S.FAILED and "stopped before" in settled.error
    assert store.requests.get(orphan).state != "diagnosing"  # resumed all the same
    assert store.leases.holder(f"step:{broken}") is None  # its claim was let go: the next sweep tries again


def test_a_sweep_whose_step_recovery_cannot_run_still_resumes_the_orphaned_requests(make_workflow, store, clock):
    a = make_workflow()
    orphan = a.receive("printer@contoso.com", REQUESTER, "C0OPS")
    clock.advance(a.claims.ttl.total_seconds() + 1)
    b = make_workflow()

    def broken() -> list[int]:
        raise RuntimeError("a bug in recovery")

    b.recover = broken
    Runtime.settle_orphans(SimpleNamespace(_orphans=threading.Lock(), workflow=b, clock=clock))
    assert store.requests.get(orphan).state != "diagnosing"
