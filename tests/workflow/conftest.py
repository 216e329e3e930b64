"""Workflow fixtures: a migrated store (SQLite, and PostgreSQL when configured) and workflows on the sandbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from workflow_helpers import APPROVER, GROUP_MEMBER

from bot.store import Store
from bot.workflow.gate import GatePolicy
from bot.workflow.model import STEP_TRANSITIONS, StepState
from bot.workflow.service import Workflow


@pytest.fixture
def store(db_url, clock):
    store = Store(db_url, clock=clock)
    store.migrate()
    yield store
    assert_every_step_transition_is_in_the_table(store)
    store.close()


def assert_every_step_transition_is_in_the_table(store):
    """Whatever a test drove the workflow through, each audited step move is an entry of STEP_TRANSITIONS."""
    for row in store.requests.audit_rows():
        if row.step_id is not None and row.before and row.after and "state" in row.after:
            move = (StepState(row.before["state"]), StepState(row.after["state"]))
            assert row.action in STEP_TRANSITIONS.get(move, ()), (move, row.action)


def admins(group: str) -> list[str]:
    return [GROUP_MEMBER] if group == "S0ADMINS" else []


@pytest.fixture
def make_workflow(store, make_m365, clock):
    made = []

    def make(tenant: str = "contoso", members=admins, **policy) -> Workflow:
        m365 = make_m365(tenant)
        settings = {"approvers": [APPROVER, "S0ADMINS"], "ttl": timedelta(minutes=60)} | policy
        gate = GatePolicy.from_ids(settings.pop("approvers"), settings.pop("requesters", ()), **settings)
        changed: list[str] = []
        flow = Workflow(store, lambda: m365, gate, clock=clock, members=members, on_change=changed.append)
        flow.changed = changed  # type: ignore[attr-defined]
        made.append(flow)
        return flow

    yield make
    for flow in made:
        flow.close()
