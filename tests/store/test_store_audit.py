"""The audit log is append-only: the database refuses UPDATE and DELETE, and so does the ORM."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from bot.clock import FakeClock
from bot.errors import AppendOnlyViolation
from bot.store import Store
from bot.store.models import AuditRow


@pytest.fixture
def entry_id(store: Store) -> int:
    return store.requests.audit("U_ADMIN", "config.reloaded", detail={"approvers": ["U1"]})


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE id = :id",
    ],
)
def test_database_refuses_changes(store: Store, entry_id: int, statement: str) -> None:
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text(statement), {"id": entry_id})
    (entry,) = store.requests.audit_rows()
    assert (entry.id, entry.actor) == (entry_id, "U_ADMIN")


def test_postgresql_refuses_truncate(store: Store, entry_id: int) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_log"))
    assert len(store.requests.audit_rows()) == 1


def test_orm_refuses_changes(store: Store, entry_id: int) -> None:
    with Session(store.engine) as session:
        row = session.get(AuditRow, entry_id)
        assert row is not None
        row.actor = "mallory"
        with pytest.raises(AppendOnlyViolation):
            session.flush()
        session.rollback()
        session.delete(session.get(AuditRow, entry_id))
        with pytest.raises(AppendOnlyViolation):
            session.flush()
        session.rollback()
        with pytest.raises(AppendOnlyViolation):
            session.execute(update(AuditRow).values(actor="mallory"))
        with pytest.raises(AppendOnlyViolation):
            session.execute(delete(AuditRow))
    assert store.requests.audit_rows()[0].actor == "U_ADMIN"


def test_audit_rows_in_order_and_filtered(store: Store, clock: FakeClock) -> None:
    first = store.requests.audit(
        "U1", "a", request_id="CR-AAAAAA", target="x@contoso.com", before={"v": 1}, after={"v": 2}
    )
    clock.advance(60)
    since = clock.now()
    second = store.requests.audit("U2", "b", request_id="CR-BBBBBB", detail={"at": clock.now()})
    third = store.requests.audit("U3", "c", request_id="CR-AAAAAA", step_id=7)
    assert [e.id for e in store.requests.audit_rows()] == [first, second, third]
    assert [e.id for e in store.requests.audit_rows(since=since)] == [second, third]
    assert [e.id for e in store.requests.audit_rows(request_id="CR-AAAAAA")] == [first, third]
    assert [e.id for e in store.requests.audit_rows(since=since + timedelta(seconds=1))] == []
    entry = store.requests.audit_rows()[0]
    assert (entry.before, entry.after, entry.target) == ({"v": 1}, {"v": 2}, "x@contoso.com")
    assert store.requests.audit_rows()[1].detail == {"at": since.isoformat()}
