"""SIGKILL the bot's worker process at each point of a change's life; gunicorn starts a fresh one (a process
restart): afterwards the tenant, the card and the audit log agree, the change is applied once, there is one card,
and an undo puts back the true original.

Claims run out after CLAIM_SECONDS here, so the new worker's sweep settles what the dead one held at once.
"""

from __future__ import annotations

import pytest

from tests.faults.processes import UPN, Cluster
from tests.slack.slack_helpers import APPROVER, REQUESTER, wait_until

ORIGINAL = True  # the scanner's mailbox has SMTP AUTH disabled; the plan enables it (False)


@pytest.fixture
def cluster(module_cluster: Cluster, sandbox, standin) -> Cluster:
    """The module's processes (one replica, its worker killed in each test), with a fresh tenant and stand-in."""
    return module_cluster


def assert_applied_once(cluster: Cluster) -> None:
    """Tenant, card and audit log agree that the change is live, and it was sent to Microsoft once."""
    step = cluster.wait_step("verified", "failed")
    assert step.state == "verified", step.error
    assert cluster.tenant_value() is False
    assert len(cluster.sets()) == 1
    cluster.wait_card("step_undo")  # the card offers Undo: it says the change is live
    assert step.before is ORIGINAL and step.after is False  # what Undo will put back
    assert cluster.actions().count("step.applying") == 1


def test_killed_after_the_claim_before_the_write_nothing_changes_and_retry_is_offered(cluster: Cluster):
    a = cluster.running("a")
    cluster.open_plan(a)
    cluster.sandbox.state.faults.add("latency", service="exchange", cmdlet="Get-CASMailbox", seconds=1.0)
    cluster.click(a, "Approve")
    cluster.wait_step("applying")
    a.kill_worker()
    step = cluster.wait_step("failed")
    assert "nothing changed" in step.error and cluster.sets() == [] and cluster.tenant_value() is ORIGINAL
    cluster.wait_card("step_retry")
    assert cluster.actions()[-1] == "step.recovered"


def test_killed_while_the_set_is_in_flight_the_change_is_found_and_verified(cluster: Cluster):
    """Microsoft takes the Set and makes the change; its answer is still on the way when the process dies."""
    a = cluster.running("a")
    cluster.open_plan(a)
    cluster.sandbox.state.faults.add("latency", service="exchange", cmdlet="Set-CASMailbox", seconds=0.5,
                                     apply_first=True)
    cluster.click(a, "Approve")
    wait_until(lambda: cluster.tenant_value() is False, what="the Set to reach the tenant")
    a.kill_worker()
    assert_applied_once(cluster)
    assert "step.recovered" in cluster.actions()
    _undo_restores_the_original(cluster, a)


def test_killed_after_the_write_before_the_verification_the_change_is_verified_once(cluster: Cluster):
    a = cluster.running("a")
    cluster.open_plan(a)
    faults = cluster.sandbox.state.faults
    faults.add("latency", service="exchange", cmdlet="Set-CASMailbox", seconds=0.5)
    cluster.click(a, "Approve")
    wait_until(lambda: any(r.cmdlet == "Get-CASMailbox" for r in cluster.sandbox.state.requests),
               what="the read before the write")
    faults.add("latency", service="exchange", cmdlet="Get-CASMailbox", seconds=2.0)  # the verifying read hangs
    cluster.wait_step("applied")
    faults.clear()
    a.kill_worker()
    assert_applied_once(cluster)
    assert cluster.actions()[-2:] == ["step.applied", "step.recovered"]


def test_killed_while_the_card_is_posted_the_card_is_adopted_not_posted_twice(cluster: Cluster):
    """Slack takes the card but the process dies before storing its ts: the next process finds it by its
    metadata in the channel's history and updates it, so the channel never shows an orphaned duplicate."""
    a = cluster.running("a")
    posting = cluster.standin.faults.add(method="chat.postMessage", kind="latency", seconds=0.5)
    cluster.sender(a).command("/smtp-enable", UPN, user_id=REQUESTER)
    wait_until(lambda: posting.fired, what="the card on its way to Slack")
    a.kill_worker()
    wait_until(cluster.cards, what="Slack to take the card")
    wait_until(lambda: cluster.request().message_ts, what="the card adopted")
    [card] = cluster.cards()
    assert cluster.request().message_ts == card.ts
    cluster.sandbox.state.requests.clear()
    cluster.click(a, "Approve")
    assert_applied_once(cluster)
    cards = [c for c in cluster.standin.calls("chat.postMessage") if not c.args.get("thread_ts")]  # notices are replies
    assert len(cards) == 1


def test_killed_during_undo_the_original_value_is_back_and_the_step_reverted(cluster: Cluster):
    a = cluster.running("a")
    cluster.open_plan(a)
    cluster.click(a, "Approve")
    cluster.wait_card("step_undo")
    cluster.click(a, "step_undo", user=REQUESTER)
    cluster.wait_card("undo_approve")
    # Microsoft makes the undo, then the answer hangs and the process dies waiting for it.
    cluster.sandbox.state.faults.add("latency", service="exchange", cmdlet="Set-CASMailbox", seconds=0.5,
                                     apply_first=True)
    cluster.click(a, "undo_approve")
    wait_until(lambda: cluster.tenant_value() is ORIGINAL, what="the undo to reach the tenant")
    a.kill_worker()
    step = cluster.wait_step("reverted")
    assert cluster.tenant_value() is ORIGINAL
    wait_until(lambda: len(cluster.sets()) == 2, what="the undo's answer (to nobody)")
    assert cluster.actions()[-1] == "undo.recovered" and step.before is ORIGINAL
    cluster.wait_card("Undone")


def _undo_restores_the_original(cluster: Cluster, replica) -> None:
    cluster.click(replica, "step_undo", user=REQUESTER)
    cluster.wait_card("undo_approve")
    cluster.click(replica, "undo_approve", user=APPROVER)
    cluster.wait_step("reverted")
    assert cluster.tenant_value() is ORIGINAL

