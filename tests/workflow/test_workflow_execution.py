"""Execution against what Microsoft really did: crashes while verifying, writes that land but fail to answer."""

from __future__ import annotations

from workflow_helpers import APPROVER, REQUESTER, mailbox_value

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


def test_a_step_killed_while_verifying_is_settled_at_restart(make_workflow, sandbox, store):
    flow = make_workflow()
    landed = left_applied(flow, store, "copier@contoso.com", None, False)
    sandbox.state.tenant("contoso").user("copier@contoso.com").mailbox.smtp_client_authentication_disabled = False
    lost = left_applied(flow, store, "scanner@contoso.com", True, False)  # accepted, yet not there

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
