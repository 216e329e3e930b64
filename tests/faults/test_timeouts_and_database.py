"""Microsoft answering too late and the database going away, against a real bot process: what the card and the
user are told matches what really happened, nothing is half done, and Undo restores the true original."""

from __future__ import annotations

import pytest

from tests.faults.processes import UPN, Cluster
from tests.slack.slack_helpers import APPROVER, REQUESTER, wait_until

ORIGINAL = True  # the scanner's mailbox has SMTP AUTH disabled; the plan enables it (False)


@pytest.fixture
def cluster(module_cluster: Cluster, sandbox, standin) -> Cluster:
    """One bot process for the module: Microsoft calls time out after 1 s with no retry, and its database
    connections go through a link the test can cut."""
    if module_cluster.link is None:
        module_cluster.settings |= {"  timeout_seconds: 30": "  timeout_seconds: 1",
                                    "  max_attempts: 4": "  max_attempts: 1"}
        module_cluster.through_link()
    return module_cluster


def test_a_set_that_times_out_but_is_made_says_so_and_undo_restores_the_original(cluster: Cluster):
    """Exchange makes the change, then answers after the client gave up (1 s, one attempt)."""
    bot = cluster.running("a")
    cluster.open_plan(bot)
    cluster.sandbox.state.faults.add("latency", service="exchange", cmdlet="Set-CASMailbox", seconds=2.0,
                                     apply_first=True)
    cluster.click(bot, "Approve")

    step = cluster.wait_step("verified", "failed")
    assert step.state == "verified" and step.error.startswith("Applied after a timeout")
    assert step.before is ORIGINAL and step.after is False and cluster.tenant_value() is False
    cluster.wait_card("Applied after a timeout")
    assert "step.applied_after_error" in cluster.actions()

    cluster.click(bot, "step_undo", user=REQUESTER)
    cluster.wait_card("undo_approve")
    cluster.click(bot, "undo_approve", user=APPROVER)
    cluster.wait_step("reverted")
    assert cluster.tenant_value() is ORIGINAL  # the true original, not the value read after the timeout
    cluster.wait_card("Undone")


def test_a_database_cut_mid_command_is_told_leaves_nothing_half_done_and_is_recovered(cluster: Cluster):
    """Every connection to PostgreSQL is dropped and new ones refused, at four moments; the bot tells the user
    each time, and once the database is back it finishes what was stored and nothing else."""
    link = cluster.link
    bot = cluster.running("a")
    sender = cluster.sender(bot)
    faults = cluster.sandbox.state.faults

    stored = len(cluster.store.requests.list())
    link.cut()  # 1. a command arrives while the database is gone: not stored, and the ack says so
    answer = sender.command("/smtp-enable", UPN, user_id=REQUESTER)
    assert answer.status_code == 200 and "could not record this request" in answer.text
    link.restore()
    assert len(cluster.store.requests.list()) == stored

    # 2. cut while the request is being diagnosed: the requester is told, the request is kept and finished later
    reading = faults.add("latency", service="exchange", cmdlet="Get-CASMailbox", seconds=0.5)
    answer = sender.command("/smtp-enable", UPN, user_id=REQUESTER)
    assert "Diagnosing" in answer.text
    wait_until(lambda: reading.fired, what="the diagnosis under way")
    link.cut()
    wait_until(lambda: any("database stopped answering" in str(r.payload) for r in cluster.standin.responses()),
               what="the requester told")
    assert cluster.cards() == []
    link.restore()
    card = cluster.wait_card("step_approve")
    wait_until(lambda: cluster.request().message_ts == card.ts, what="the card's ts stored")
    assert cluster.request().state == "planned"

    # 3. an approval while the database is gone: refused with a reason, nothing sent to Microsoft
    cluster.sandbox.state.requests.clear()
    link.cut()
    cluster.click(bot, "Approve")
    wait_until(lambda: any("database is not answering" in str(r.payload) for r in cluster.standin.responses()),
               what="the approver told")
    link.restore()
    assert cluster.sets() == [] and cluster.step().state == "pending"

    # 4. cut while the Set is in flight (Microsoft makes it): settled from the tenant once the database is back
    applying = faults.add("latency", service="exchange", cmdlet="Set-CASMailbox", seconds=0.5, apply_first=True)
    cluster.click(bot, "Approve")
    wait_until(lambda: applying.fired, what="the Set under way")
    link.cut()
    wait_until(cluster.sets, what="the Set's answer")
    link.restore()
    step = cluster.wait_step("verified", "failed")
    assert step.state == "verified" and cluster.tenant_value() is False and len(cluster.sets()) == 1
    assert cluster.actions().count("step.approved") == 1
    cluster.wait_card("step_undo")
    assert len(cluster.cards()) == 1
