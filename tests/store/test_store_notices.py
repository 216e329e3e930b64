"""Each step outcome the requester is told about is queued in the outbox in the transaction of its transition."""

from __future__ import annotations

from datetime import timedelta

from store_helpers import STEPS, TTL

from bot.clock import FakeClock
from bot.store import Store
from bot.workflow.model import BOT_ACTOR, NOTICE_KIND


def notices(store: Store) -> list:
    items = [store.outbox.get(n) for n in range(1, 100)]
    return [i for i in items if i is not None and i.kind == NOTICE_KIND]


def test_outcomes_queue_one_notice_each_and_intermediate_states_none(store: Store, request_id: str,
                                                                     clock: FakeClock) -> None:
    step_id = store.requests.get_steps(request_id)[0].id
    assert store.requests.transition_step(step_id, "pending", "approved", "U_A", "step.approved", decided_by="U_A")
    assert not store.requests.transition_step(step_id, "pending", "approved", "U_B", "step.approved",
                                              decided_by="U_B")  # the loser tells nobody
    assert store.requests.transition_step(step_id, "approved", "applying", BOT_ACTOR, "step.applying")
    assert store.requests.transition_step(step_id, "applying", "applied", BOT_ACTOR, "step.applied", before=True,
                                          after=False)
    clock.advance(5)
    assert store.requests.transition_step(step_id, "applied", "verified", BOT_ACTOR, "step.verified")
    assert store.requests.transition_step(step_id, "verified", "revert_pending", "U_REQ", "undo.requested",
                                          undo_requested_by="U_REQ")
    assert store.requests.transition_step(step_id, "revert_pending", "reverting", "U_A", "undo.approved",
                                          undo_decided_by="U_A")
    assert store.requests.transition_step(step_id, "reverting", "reverted", BOT_ACTOR, "undo.verified", error=None)

    queued = notices(store)
    assert [(i.payload["notice"], i.payload["actor"]) for i in queued] == [
        ("approved", "U_A"), ("applied", BOT_ACTOR), ("undone", BOT_ACTOR)]
    assert len({i.dedupe_key for i in queued}) == 3 and all(i.state == "pending" for i in queued)
    approved, applied, undone = (i.payload for i in queued)
    assert approved == {"key": queued[0].dedupe_key, "notice": "approved", "request_id": request_id,
                        "step_id": step_id, "title": STEPS[0]["title"], "actor": "U_A",
                        "at": (clock.now() - timedelta(seconds=5)).isoformat(), "error": None,
                        "undo_requested_by": None, "undo_requested_at": None, "undo_decided_by": None,
                        "undo_decided_at": None}
    assert applied["at"] == clock.now().isoformat() and undone["undo_requested_by"] == "U_REQ"
    assert (undone["undo_decided_by"], undone["undo_decided_at"]) == ("U_A", clock.now().isoformat())  # who undid


def test_expiry_and_failures_queue_their_notice_once(store: Store, request_id: str, clock: FakeClock) -> None:
    first, second = (s.id for s in store.requests.get_steps(request_id)[:2])
    assert store.requests.transition_step(first, "pending", "approved", "U_A", "step.approved", decided_by="U_A")
    assert store.requests.transition_step(first, "approved", "applying", BOT_ACTOR, "step.applying")
    assert store.requests.transition_step(first, "applying", "failed", BOT_ACTOR, "step.failed", error="Denied.")
    clock.advance(TTL.total_seconds() + 1)
    assert store.requests.expire_due() == [s.id for s in store.requests.get_steps(request_id)
                                           if s.state == "expired"]
    assert store.requests.expire_due() == []
    told = [(i.payload["step_id"], i.payload["notice"], i.payload["error"]) for i in notices(store)]
    assert told[:2] == [(first, "approved", None), (first, "failed", "Denied.")]
    assert (second, "expired", None) in told[2:] and len(told) == 2 + len(STEPS) - 1


def test_one_approval_of_several_queues_its_notice_once_and_a_stale_one_none(store: Store, request_id: str) -> None:
    step = store.requests.get_steps(request_id)[0]
    assert store.requests.add_approval(step.id, "U_A", step.version, "step.approval_recorded", 2)
    assert not store.requests.add_approval(step.id, "U_B", step.version, "step.approval_recorded", 2)  # stale
    [queued] = notices(store)
    assert queued.dedupe_key == f"notice:{step.id}:{step.version + 1}"
    assert {k: queued.payload[k] for k in ("notice", "actor", "approvals", "needed", "step_id")} == {
        "notice": "approval_recorded", "actor": "U_A", "approvals": 1, "needed": 2, "step_id": step.id}
