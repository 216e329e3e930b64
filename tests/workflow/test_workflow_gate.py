"""The gate fails closed: when an approver group cannot be read, nobody approves through it, and is told why."""

from __future__ import annotations

from workflow_helpers import APPROVER, GROUP_MEMBER, REQUESTER

from bot.errors import GroupUnreadable
from bot.workflow.model import OutcomeKind, StepState

WHY = "Could not confirm you are in approver group S0ADMINS: Slack said missing_scope"


def unreadable(group: str) -> list[str]:
    raise GroupUnreadable(group, "missing_scope")


def test_an_unreadable_group_refuses_approval_undo_approval_and_approve_all(make_workflow, store):
    flow = make_workflow(members=unreadable)
    view = flow.open_request("copier@contoso.com", REQUESTER, "C0OPS")
    [step] = view.steps
    refused = flow.decide(step.id, GROUP_MEMBER, approve=True)
    assert refused.kind == OutcomeKind.REFUSED and refused.message.startswith(WHY)
    assert [o.message[:len(WHY)] for o in flow.approve_all(view.request.id, GROUP_MEMBER)] == [WHY]
    [audited, _] = [r for r in store.requests.audit_rows() if r.action == "step.refused"]
    assert audited.detail["reason"].startswith(WHY)

    assert flow.decide(step.id, APPROVER, approve=True).run  # listed directly: unaffected
    assert flow.run(step.id).state == StepState.VERIFIED
    assert flow.request_undo(step.id, REQUESTER).kind == OutcomeKind.UNDO_REQUESTED
    undo = flow.decide(step.id, GROUP_MEMBER, approve=True)
    assert undo.kind == OutcomeKind.REFUSED and undo.message.startswith(WHY)
    assert store.requests.get_step(step.id).state == StepState.REVERT_PENDING
