"""Change requests and their steps: creation, the conditional transitions, expiry, and what gets audited."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError
from store_helpers import STEPS, TTL

from bot.clock import FakeClock
from bot.errors import IllegalTransition
from bot.store import Store
from bot.workflow.model import BOT_ACTOR


def test_create_request_stores_plan_and_audits(store: Store, request_id: str, clock: FakeClock) -> None:
    assert re.fullmatch(r"CR-[2-9A-HJKMNP-TV-Z]{6}", request_id)
    request = store.requests.get(request_id)
    assert request is not None
    assert (request.upn, request.requester, request.channel, request.state) == (
        "scanner@contoso.com",
        "U_REQ",
        "C_OPS",
        "planned",
    )
    assert request.created_at == clock.now() and request.created_at.tzinfo is UTC
    assert request.expires_at == clock.now() + TTL
    assert request.diagnosis == {"cause": "smtp_auth_disabled"} and request.options == {}

    steps = store.requests.get_steps(request_id)
    assert [(s.position, s.handler_key, s.state, s.proposed) for s in steps] == [
        (i, s["handler_key"], "pending", s["proposed"]) for i, s in enumerate(STEPS)
    ]
    assert store.requests.get_step(steps[0].id) == steps[0]

    received, entry = store.requests.audit_rows(request_id=request_id)
    assert (received.actor, received.action, received.after) == ("U_REQ", "request.created", {"state": "diagnosing"})
    assert (entry.actor, entry.action, entry.target) == (BOT_ACTOR, "request.planned", "scanner@contoso.com")
    assert entry.after["steps"][0]["handler_key"] == "mailbox_smtp_auth"
    assert entry.after["expires_at"] == (clock.now() + TTL).isoformat()


def test_missing_rows_read_as_none(store: Store) -> None:
    assert store.requests.get("CR-NOPE22") is None
    assert store.requests.get_step(123456) is None
    assert store.requests.get_steps("CR-NOPE22") == []


def test_set_message_and_list_requests(store: Store, request_id: str, clock: FakeClock) -> None:
    assert store.requests.set_message(request_id, "C_CARD", "1700000000.000100")
    assert not store.requests.set_message("CR-NOPE22", "C_CARD", "1")
    clock.advance(60)
    newer = store.requests.create(
        "printer@contoso.com", "contoso", "U_REQ", "C_OPS", TTL, [], {}, {"org": True}
    )
    assert [r.id for r in store.requests.list()] == [newer, request_id]
    assert [r.id for r in store.requests.list(upn="scanner@contoso.com")] == [request_id]
    card = store.requests.get(request_id)
    assert card is not None and (card.channel, card.message_ts) == ("C_CARD", "1700000000.000100")
    assert store.requests.get(newer).options == {"org": True}  # type: ignore[union-attr]
    assert len(store.requests.list(state="planned", limit=1)) == 1


def test_first_decision_wins_and_is_audited(store: Store, request_id: str, clock: FakeClock) -> None:
    step = store.requests.get_steps(request_id)[0]
    clock.advance(30)
    assert store.requests.transition_step(
        step.id, "pending", "approved", "U_APPROVER", "step.approved", decided_by="U_APPROVER"
    )
    assert not store.requests.transition_step(
        step.id, "pending", "denied", "U_OTHER", "step.denied", decided_by="U_OTHER"
    )

    after = store.requests.get_step(step.id)
    assert after is not None
    assert (after.state, after.decided_by, after.decided_at) == ("approved", "U_APPROVER", clock.now())
    assert after.version == step.version + 1 and after.updated_at == clock.now()

    entries = store.requests.audit_rows(request_id=request_id)
    assert [e.action for e in entries] == ["request.created", "request.planned", "step.approved"]
    approved = entries[-1]
    assert (approved.actor, approved.step_id, approved.target) == (
        "U_APPROVER",
        step.id,
        "scanner@contoso.com",
    )
    assert approved.before == {"state": "pending", "decided_by": None, "decided_at": None}
    assert approved.after == {
        "state": "approved",
        "decided_by": "U_APPROVER",
        "decided_at": clock.now().isoformat(),
    }


def test_full_lifecycle_records_fields(store: Store, request_id: str, clock: FakeClock) -> None:
    step_id = store.requests.get_steps(request_id)[0].id
    assert store.requests.transition_step(step_id, "pending", "approved", "U_A", "step.approved", decided_by="U_A")
    assert store.requests.transition_step(step_id, "approved", "applying", "U_A", "step.applying")
    assert not store.requests.transition_step(step_id, "approved", "applying", "U_A", "step.applying")  # claimed once
    clock.advance(5)
    assert store.requests.transition_step(
        step_id, "applying", "applied", "system", "step.applied", before=True, after=False
    )
    assert store.requests.transition_step(step_id, "applied", "verified", "system", "step.verified")
    step = store.requests.get_step(step_id)
    assert step is not None
    assert (step.state, step.before, step.after, step.attempts, step.applied_at) == (
        "verified",
        True,
        False,
        1,
        clock.now(),
    )
    assert store.requests.steps_in_state("verified") == [step]
    assert store.requests.transition_step(step_id, "verified", "revert_pending", "U_REQ", "undo.requested")
    assert store.requests.transition_step(step_id, "revert_pending", "reverting", "U_A", "undo.approved")
    assert store.requests.transition_step(step_id, "reverting", "reverted", "system", "undo.verified", error=None)
    actions = [e.action for e in store.requests.audit_rows(request_id=request_id)]
    assert actions[2:] == [
        "step.approved",
        "step.applying",
        "step.applied",
        "step.verified",
        "undo.requested",
        "undo.approved",
        "undo.verified",
    ]


def test_failure_keeps_the_error(store: Store, request_id: str) -> None:
    step_id = store.requests.get_steps(request_id)[1].id
    store.requests.transition_step(step_id, "pending", "approved", "U_A", "step.approved")
    store.requests.transition_step(step_id, "approved", "applying", "U_A", "step.applying")
    assert store.requests.steps_in_state("applying")[0].id == step_id
    assert store.requests.transition_step(
        step_id, "applying", "failed", "system", "step.failed", error="403 Forbidden"
    )
    step = store.requests.get_step(step_id)
    assert step is not None and (step.state, step.error) == ("failed", "403 Forbidden")
    assert store.requests.steps_in_state("applying") == []


def test_transition_rejects_unknown_states_and_fields(store: Store, request_id: str) -> None:
    step_id = store.requests.get_steps(request_id)[0].id
    with pytest.raises(ValueError, match="unknown state"):
        store.requests.transition_step(step_id, "pending", "done", "U_A", "x")
    with pytest.raises(ValueError, match="unknown state"):
        store.requests.transition_step(step_id, ("pending", "waiting"), "approved", "U_A", "x")
    with pytest.raises(TypeError, match="attempts"):
        store.requests.transition_step(step_id, "pending", "approved", "U_A", "x", attempts=5)
    assert not store.requests.transition_step(987654, "pending", "approved", "U_A", "step.approved")
    assert store.requests.get_step(step_id).state == "pending"  # type: ignore[union-attr]


def test_request_transition_closes_once(store: Store, request_id: str, clock: FakeClock) -> None:
    assert store.requests.transition(request_id, "planned", "closed", "system", "request.nothing_to_change")
    assert not store.requests.transition(request_id, "planned", "closed", "system", "request.nothing_to_change")
    request = store.requests.get(request_id)
    assert request is not None and (request.state, request.closed_at) == ("closed", clock.now())
    assert store.requests.audit_rows(request_id=request_id)[-1].before == {"state": "planned"}


def test_expire_due_expires_only_pending_steps_of_expired_requests(
    store: Store, request_id: str, clock: FakeClock
) -> None:
    first, second = store.requests.get_steps(request_id)
    store.requests.transition_step(first.id, "pending", "approved", "U_A", "step.approved")
    clock.advance(TTL.total_seconds() - 1)
    assert store.requests.expire_due() == []
    later = store.requests.create("later@contoso.com", "t", "U_REQ", "C_OPS", TTL, STEPS, {})
    clock.advance(1)
    assert store.requests.expire_due() == [second.id]
    assert store.requests.expire_due() == []
    assert [s.state for s in store.requests.get_steps(request_id)] == ["approved", "expired"]
    assert {s.state for s in store.requests.get_steps(later)} == {"pending"}
    entry = store.requests.audit_rows()[-1]
    assert (entry.actor, entry.action, entry.step_id) == (BOT_ACTOR, "step.expired", second.id)


def test_datetimes_are_aware_utc_and_naive_ones_refused(store: Store, clock: FakeClock) -> None:
    plus_two = timezone(timedelta(hours=2))
    at = datetime(2026, 11, 28, 12, 30, tzinfo=plus_two)
    probe_id = store.probes.record("t", "m@contoso.com", ok=True, at=at)
    (probe,) = store.probes.history("t")
    assert probe.id == probe_id and probe.at == at and probe.at.tzinfo is UTC and probe.at.hour == 10
    with pytest.raises(Exception, match="naive datetime"):
        store.probes.record("t", "m@contoso.com", ok=True, at=datetime(2026, 1, 1))


def test_id_collision_draws_again(store: Store, request_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = iter([request_id, "CR-FRESH2"])
    monkeypatch.setattr("bot.store.requests.new_request_id", lambda: next(drawn))
    assert store.requests.create("b@contoso.com", "t", "U_REQ", "C_OPS", TTL, STEPS, {}) == "CR-FRESH2"
    assert store.requests.get(request_id).upn == "scanner@contoso.com"  # type: ignore[union-attr]
    assert len(store.requests.get_steps("CR-FRESH2")) == 2


def test_other_integrity_errors_are_not_retried(store: Store) -> None:
    with pytest.raises(IntegrityError):
        store.requests.create(
            "b@contoso.com", "t", "U_REQ", "C_OPS", TTL, [{"handler_key": "x", "title": None}], {}
        )
    [request] = store.requests.list()  # received, but its plan was not stored: start-up diagnoses it again
    assert request.state == "diagnosing" and store.requests.get_steps(request.id) == []


def test_a_transition_outside_the_workflows_table_is_refused_before_any_write(store: Store, request_id: str) -> None:
    step = store.requests.get_steps(request_id)[0]
    audited = len(store.requests.audit_rows())
    with pytest.raises(IllegalTransition, match="pending -> verified"):
        store.requests.transition_step(step.id, "pending", "verified", "U_A", "step.verified")
    with pytest.raises(IllegalTransition):
        store.requests.transition_step(step.id, "pending", "approved", "U_A", "step.denied")
    with pytest.raises(IllegalTransition):
        store.requests.transition(request_id, "closed", "planned", "U_A", "request.reopened")
    assert store.requests.get_step(step.id) == step
    assert len(store.requests.audit_rows()) == audited


def test_apply_anyway_is_recorded_once_on_the_request_and_audited(
    store: Store, request_id: str, clock: FakeClock
) -> None:
    assert store.requests.apply_anyway(request_id, "U_FIRST", ["Conditional Access"])
    assert not store.requests.apply_anyway(request_id, "U_SECOND", ["Conditional Access"])

    request = store.requests.get(request_id)
    assert (request.applied_anyway_by, request.applied_anyway_at) == ("U_FIRST", clock.now())
    [row] = [r for r in store.requests.audit_rows(request_id=request_id) if r.action == "request.apply_anyway"]
    assert (row.actor, row.detail) == ("U_FIRST", {"blockers": ["Conditional Access"]})


def test_apply_anyway_needs_an_open_request(store: Store, request_id: str) -> None:
    store.requests.transition(request_id, "planned", "closed", BOT_ACTOR, "request.nothing_to_change")

    assert not store.requests.apply_anyway(request_id, "U_FIRST", [])
    assert store.requests.get(request_id).applied_anyway_by is None
