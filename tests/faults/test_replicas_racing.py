"""Two live replicas on one PostgreSQL: each one's sweep (the same `resume()` and `recover()` start-up runs, every
third of a claim) leaves the other's live work alone, and takes over the work of one that dies, exactly once."""

from __future__ import annotations

import pytest

from tests.faults.processes import CLAIM_SECONDS, UPN, Cluster
from tests.slack.slack_helpers import APPROVER, REQUESTER, wait_until

ORIGINAL = True


@pytest.fixture
def cluster(module_cluster: Cluster, sandbox, standin) -> Cluster:
    """The module's two replicas (started once, side by side), with a fresh tenant and stand-in per test."""
    if not [r for r in module_cluster.replicas if r.process.poll() is None]:
        module_cluster.start_many("a", "b")
    return module_cluster


def cas_reads(cluster: Cluster) -> int:
    return sum(1 for r in cluster.sandbox.state.requests if r.cmdlet == "Get-CASMailbox")


def test_a_live_replicas_slow_diagnosis_and_apply_are_left_to_it(cluster: Cluster):
    a = cluster.running("a")
    faults = cluster.sandbox.state.faults
    slow = CLAIM_SECONDS + 1.0  # longer than a claim: only a's heartbeat keeps b's sweeps away
    faults.add("latency", service="exchange", cmdlet="Get-CASMailbox", seconds=slow)
    cluster.sender(a).command("/smtp-enable", UPN, user_id=REQUESTER)
    cluster.wait_card("step_approve")
    assert cas_reads(cluster) == 1  # diagnosed once, though b swept while a diagnosed
    assert cluster.actions().count("request.planned") == 1

    cluster.sandbox.state.requests.clear()
    faults.add("latency", service="exchange", cmdlet="Set-CASMailbox", seconds=slow)
    cluster.click(a, "Approve")
    step = cluster.wait_step("verified", "failed")
    assert step.state == "verified" and step.error is None
    assert "step.recovered" not in cluster.actions() and len(cluster.sets()) == 1
    assert cluster.tenant_value() is False


def test_a_replica_killed_mid_apply_is_settled_by_the_other_once(cluster: Cluster):
    a, b = cluster.running("a"), cluster.running("b")
    cluster.open_plan(a)
    cluster.sandbox.state.faults.add("latency", service="exchange", cmdlet="Set-CASMailbox", seconds=0.5,
                                     apply_first=True)
    cluster.click(a, "Approve")
    wait_until(lambda: cluster.tenant_value() is False, what="the Set to reach the tenant")
    a.kill()  # the whole replica, master and worker: nothing restarts it

    step = cluster.wait_step("verified", "failed")
    assert step.state == "verified" and cluster.actions()[-1] == "step.recovered"
    wait_until(lambda: len(cluster.sets()) == 1, what="the Set's answer (to nobody)")
    cluster.wait_card("step_undo")  # b redrew the card a posted

    cluster.click(b, "step_undo", user=REQUESTER)
    cluster.wait_card("undo_approve")
    cluster.click(b, "undo_approve", user=APPROVER)
    cluster.wait_step("reverted")
    assert cluster.tenant_value() is ORIGINAL and len(cluster.sets()) == 2
    assert len(cluster.cards()) == 1
