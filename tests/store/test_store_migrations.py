"""Schema upgrades never lose data: models and migrations agree, and upgrades keep every row."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError
from store_helpers import STEPS, TTL

from bot.clock import FakeClock
from bot.store import Store, normalise_url, schema
from bot.store.__main__ import main
from bot.store.models import Base
from bot.workflow.model import BOT_ACTOR as BOT
from bot.workflow.model import MailboxState


def test_models_and_migrations_agree(store: Store) -> None:
    assert _schema_diffs(store) == []


def test_schema_comparison_sees_a_missing_revision(db_url: str) -> None:
    store = Store(db_url)
    store.migrate("0001")
    assert {diff[0] for diff in _schema_diffs(store)} == {"add_column", "add_index", "add_table"}
    store.close()


def test_migrate_is_idempotent_and_keeps_rows(store: Store, db_url: str, clock: FakeClock) -> None:
    request_id = store.requests.create("a@contoso.com", "t", "U1", "C1", TTL, STEPS, {"x": 1})
    store.probes.record("scanner", "scanner@contoso.com", ok=False, cause="auth_disabled", code=535)
    store.outbox.enqueue("post", {"text": "hi"}, dedupe_key="k1")

    again = Store(db_url, clock=clock)
    again.migrate()
    again.migrate()
    assert schema.current_revision(again.engine) == schema.head_revision()
    assert again.requests.get(request_id) is not None
    assert [s.handler_key for s in again.requests.get_steps(request_id)] == [s["handler_key"] for s in STEPS]
    assert len(again.probes.history("scanner")) == 1
    assert [r.action for r in again.requests.audit_rows()] == ["request.created", "request.planned"]
    again.close()


def test_upgrade_from_initial_revision_keeps_and_backfills_data(db_url: str, clock: FakeClock) -> None:
    store = Store(db_url, clock=clock)
    store.migrate("0001")
    created = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    closed = created + timedelta(minutes=7)
    # Rows written by the 0001 code (no closed_at column yet), in SQL of that revision.
    with store.engine.begin() as conn:
        for request_id, state in (("CR-OLD222", "closed"), ("CR-OPEN33", "planned")):
            conn.execute(
                text(
                    "INSERT INTO change_requests (id, upn, tenant_id, requester, channel, state, created_at, "
                    "expires_at, diagnosis, options) VALUES (:id, 'old@contoso.com', 't', 'U1', 'C1', :state, "
                    ":created, :expires, '{}', '{}')"
                ),
                {
                    "id": request_id,
                    "state": state,
                    "created": _sql_time(store, created),
                    "expires": _sql_time(store, created + TTL),
                },
            )
            conn.execute(
                text(
                    "INSERT INTO steps (request_id, position, handler_key, title, state, updated_at) "
                    "VALUES (:id, 0, 'mailbox_smtp_auth', 'Mailbox SMTP AUTH', 'verified', :at)"
                ),
                {"id": request_id, "at": _sql_time(store, created)},
            )
            for at, action in ((created, "request.created"), (closed, "request.closed")):
                conn.execute(
                    text(
                        "INSERT INTO audit_log (at, actor, action, request_id) VALUES (:at, 'U1', :action, :id)"
                    ),
                    {"at": _sql_time(store, at), "action": action, "id": request_id},
                )

    store.migrate()

    old = store.requests.get("CR-OLD222")
    assert old is not None and old.state == "closed" and old.closed_at == closed and old.created_at == created
    still_open = store.requests.get("CR-OPEN33")
    assert still_open is not None and still_open.closed_at is None
    assert [s.state for s in store.requests.get_steps("CR-OLD222")] == ["verified"]
    assert len(store.requests.audit_rows()) == 4
    assert "ix_audit_log_request_id" in {ix["name"] for ix in inspect(store.engine).get_indexes("audit_log")}
    store.close()


def test_upgrade_to_0003_backfills_who_asked_for_an_undo_from_the_audit_log(db_url: str, clock: FakeClock) -> None:
    store = Store(db_url, clock=clock)
    store.migrate("0002")
    created = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    asked = created + timedelta(minutes=9)
    # Rows written by the 0002 code (no undo columns yet): two undo requests of step 1, none of step 2.
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO change_requests (id, upn, tenant_id, requester, channel, state, created_at, "
                "expires_at, diagnosis, options) VALUES ('CR-UNDO22', 'old@contoso.com', 't', 'U1', 'C1', "
                "'planned', :created, :expires, '{}', '{}')"
            ),
            {"created": _sql_time(store, created), "expires": _sql_time(store, created + TTL)},
        )
        for position, state in enumerate(("revert_pending", "verified")):
            conn.execute(
                text(
                    "INSERT INTO steps (id, request_id, position, handler_key, title, state, updated_at) "
                    "VALUES (:id, 'CR-UNDO22', :position, 'mailbox_smtp_auth', 'Mailbox SMTP AUTH', :state, :at)"
                ),
                {"id": position + 1, "position": position, "state": state, "at": _sql_time(store, created)},
            )
        for at, actor, action in ((created, "U_OLD", "undo.requested"), (asked, "U_NEW", "undo.requested"),
                                  (asked + timedelta(minutes=1), "U_X", "undo.refused")):
            conn.execute(
                text(
                    "INSERT INTO audit_log (at, actor, action, request_id, step_id) "
                    "VALUES (:at, :actor, :action, 'CR-UNDO22', 1)"
                ),
                {"at": _sql_time(store, at), "actor": actor, "action": action},
            )

    store.migrate()

    first, second = store.requests.get_steps("CR-UNDO22")
    assert (first.undo_requested_by, first.undo_requested_at) == ("U_NEW", asked)
    assert (second.undo_requested_by, second.undo_requested_at) == (None, None)
    schema.downgrade(store.engine, "0002")
    assert "undo_requested_by" not in {c["name"] for c in inspect(store.engine).get_columns("steps")}
    store.close()


def test_upgrade_to_0004_backfills_who_chose_apply_anyway_from_the_audit_log(db_url: str, clock: FakeClock) -> None:
    store = Store(db_url, clock=clock)
    store.migrate("0003")
    created = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    chosen = created + timedelta(minutes=4)
    with store.engine.begin() as conn:
        for request_id in ("CR-HELD22", "CR-FREE22"):
            conn.execute(
                text(
                    "INSERT INTO change_requests (id, upn, tenant_id, requester, channel, state, created_at, "
                    "expires_at, diagnosis, options) VALUES (:id, 'old@contoso.com', 't', 'U1', 'C1', "
                    "'planned', :created, :expires, '{}', '{}')"
                ),
                {"id": request_id, "created": _sql_time(store, created),
                 "expires": _sql_time(store, created + TTL)},
            )
        for at, actor, action in ((created, "U_NO", "request.apply_anyway_refused"),
                                  (chosen, "U_FIRST", "request.apply_anyway"),
                                  (chosen + timedelta(minutes=1), "U_LATER", "request.apply_anyway")):
            conn.execute(
                text("INSERT INTO audit_log (at, actor, action, request_id) VALUES (:at, :actor, :action, 'CR-HELD22')"),
                {"at": _sql_time(store, at), "actor": actor, "action": action},
            )

    store.migrate()

    held, free = store.requests.get("CR-HELD22"), store.requests.get("CR-FREE22")
    assert (held.applied_anyway_by, held.applied_anyway_at) == ("U_FIRST", chosen)
    assert (free.applied_anyway_by, free.applied_anyway_at) == (None, None)
    schema.downgrade(store.engine, "0003")
    assert "applied_anyway_by" not in {c["name"] for c in inspect(store.engine).get_columns("change_requests")}
    store.close()


def test_upgrade_to_0005_scopes_a_running_snooze_to_the_open_incident(db_url: str, clock: FakeClock) -> None:
    store = Store(db_url, clock=clock)
    store.migrate("0004")
    until = datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
    with store.engine.begin() as conn:
        for target, incident, snoozed in (("snoozed", "snoozed:20260105T100000", until), ("awake", None, None)):
            conn.execute(
                text("INSERT INTO alert_state (target, status, incident_id, last_cause, snoozed_until, history, "
                     "version, updated_at) VALUES (:target, 'failing', :incident, 'timeout', :until, '[]', 1, :now)"),
                {"target": target, "incident": incident, "until": _sql_time(store, snoozed) if snoozed else None,
                 "now": _sql_time(store, until)},
            )

    store.migrate()

    snoozed, awake = store.alerts.get("snoozed"), store.alerts.get("awake")
    assert (snoozed.snoozed_incident, snoozed.snoozed_cause, snoozed.snoozed_by) == (
        "snoozed:20260105T100000", "timeout", None)
    assert (awake.snoozed_incident, awake.snoozed_cause) == (None, None)
    schema.downgrade(store.engine, "0004")
    assert "snoozed_by" not in {c["name"] for c in inspect(store.engine).get_columns("alert_state")}
    store.close()


def test_upgrade_to_0007_keeps_requests_outside_any_thread(db_url: str, clock: FakeClock) -> None:
    store = Store(db_url, clock=clock)
    store.migrate("0006")
    created = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    with store.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO change_requests (id, upn, tenant_id, requester, channel, message_ts, state, created_at, "
                 "expires_at, diagnosis, options) VALUES ('CR-OLD222', 'old@contoso.com', 't', 'U1', 'C1', "
                 "'1700000000.000100', 'planned', :created, :expires, '{}', '{}')"),
            {"created": _sql_time(store, created), "expires": _sql_time(store, created + TTL)})

    store.migrate()

    old = store.requests.get("CR-OLD222")
    assert (old.thread_ts, old.thread) == (None, "1700000000.000100")  # its notices go in its card's own thread
    threaded = store.requests.receive("new@contoso.com", "U1", "C1", TTL, {}, thread_ts="1700000000.000200")
    assert [r.id for r in store.requests.list(thread=("C1", "1700000000.000200"))] == [threaded]
    schema.downgrade(store.engine, "0006")
    assert "thread_ts" not in {c["name"] for c in inspect(store.engine).get_columns("change_requests")}
    store.close()


def test_upgrade_to_0009_backfills_who_decided_the_last_undo_from_the_audit_log(db_url: str, clock: FakeClock) -> None:
    store = Store(db_url, clock=clock)
    store.migrate("0008")
    created = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    with store.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO change_requests (id, upn, tenant_id, requester, channel, state, created_at, "
                 "expires_at, diagnosis, options) VALUES ('CR-UNDO88', 'old@contoso.com', 't', 'U1', 'C1', "
                 "'planned', :created, :expires, '{}', '{}')"),
            {"created": _sql_time(store, created), "expires": _sql_time(store, created + TTL)})
        for step_id, state in ((1, "reverted"), (2, "revert_pending"), (3, "verified")):
            conn.execute(
                text("INSERT INTO steps (id, request_id, position, handler_key, title, state, updated_at) "
                     "VALUES (:id, 'CR-UNDO88', :position, 'mailbox_smtp_auth', 'Mailbox SMTP AUTH', :state, :at)"),
                {"id": step_id, "position": step_id, "state": state, "at": _sql_time(store, created)})
        # Step 1: denied once, asked again, approved. Step 2: denied, then asked again (waiting). Step 3: none.
        rows = ((1, "U_REQ", "undo.requested"), (1, "U_NO", "undo.denied"), (1, "U_REQ", "undo.requested"),
                (1, "U_YES", "undo.approved"), (1, BOT, "undo.verified"), (2, "U_REQ", "undo.requested"),
                (2, "U_NO", "undo.denied"), (2, "U_REQ", "undo.requested"))
        for n, (step_id, actor, action) in enumerate(rows):
            conn.execute(
                text("INSERT INTO audit_log (at, actor, action, request_id, step_id) "
                     "VALUES (:at, :actor, :action, 'CR-UNDO88', :step)"),
                {"at": _sql_time(store, created + timedelta(minutes=n)), "actor": actor, "action": action,
                 "step": step_id})

    store.migrate()

    first, second, third = store.requests.get_steps("CR-UNDO88")
    assert (first.undo_decided_by, first.undo_decided_at) == ("U_YES", created + timedelta(minutes=3))
    assert (second.undo_decided_by, second.undo_decided_at) == (None, None)  # its last undo waits for a decision
    assert (third.undo_decided_by, third.undo_decided_at) == (None, None)
    schema.downgrade(store.engine, "0008")
    assert "undo_decided_by" not in {c["name"] for c in inspect(store.engine).get_columns("steps")}
    store.close()


def test_upgrade_to_0010_marks_a_write_sent_where_the_state_proves_one(store: Store) -> None:
    mailboxes = [(f"m{n}@contoso.com", None) for n in range(4)]
    request_id = store.requests.create("4 mailboxes", "t", "U1", "C1", TTL, [
        {"handler_key": "bulk_smtp_auth_off", "title": "SMTP AUTH off", "mailboxes": mailboxes}], {})
    step_id = store.requests.get_steps(request_id)[0].id
    store.bulk.move(step_id, dict.fromkeys(["m0@contoso.com", "m1@contoso.com"]), {MailboxState.PENDING},
                    MailboxState.WRITING)
    store.bulk.move(step_id, {"m1@contoso.com": None}, {MailboxState.WRITING}, MailboxState.OFF)
    store.bulk.move(step_id, {"m2@contoso.com": "unreadable"}, {MailboxState.PENDING}, MailboxState.FAILED)
    assert [m.write_sent for m in store.bulk.mailboxes(step_id)] == [True, True, False, False]

    schema.downgrade(store.engine, "0009")
    assert "write_sent" not in {c["name"] for c in inspect(store.engine).get_columns("bulk_mailboxes")}
    store.migrate()

    # writing and off prove a write was sent; a failed one may have failed unread: the safe side, not sent
    assert {m.upn: m.write_sent for m in store.bulk.mailboxes(step_id)} == {
        "m0@contoso.com": True, "m1@contoso.com": True, "m2@contoso.com": False, "m3@contoso.com": False}


def test_downgrade_and_upgrade_again_keep_rows(store: Store) -> None:
    request_id = store.requests.create("a@contoso.com", "t", "U1", "C1", TTL, STEPS, {"x": 1})
    # On SQLite dropping a column copies change_requests, which steps reference: the batch path.
    schema.downgrade(store.engine, "0001")
    assert schema.current_revision(store.engine) == "0001"
    store.migrate()
    assert store.requests.get(request_id) is not None
    assert len(store.requests.get_steps(request_id)) == 2


def test_downgrade_to_base_removes_everything_and_upgrade_rebuilds(store: Store) -> None:
    schema.downgrade(store.engine, "base")
    assert set(inspect(store.engine).get_table_names()) == {"alembic_version"}
    store.migrate()
    assert _schema_diffs(store) == []
    store.requests.audit("U1", "after.rebuild")
    with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))


def test_migrations_create_no_secret_columns(store: Store) -> None:
    """No column may hold a password, client secret or token; `*_key` columns are identifiers."""
    suspicious = re.compile(r"secret|passw|pwd|token|credential|cert(?!_days_left)|key|auth(?!_mode)")
    not_secret = {
        ("steps", "handler_key"): "names the remediation handler module",
        ("outbox", "dedupe_key"): "an idempotency key the workflow derives from request and step ids",
    }
    found = {
        (table, column["name"])
        for table in inspect(store.engine).get_table_names()
        for column in inspect(store.engine).get_columns(table)
        if suspicious.search(column["name"])
    }
    assert found == set(not_secret)
    declared = {
        (t.name, c.name)
        for t in Base.metadata.tables.values()
        for c in t.columns
        if suspicious.search(c.name)
    }
    assert declared == set(not_secret)


def test_cli_upgrades_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'bot.db'}"
    assert main(["upgrade", url, "--to", "0001"]) == 0
    assert main(["current", url]) == 0
    assert main(["upgrade", url]) == 0
    out = capsys.readouterr().out.splitlines()
    head = schema.head_revision()
    assert out == [
        f"database at 0001, newest {head}",
        f"database at 0001, newest {head}",
        f"database at {head}, newest {head}",
    ]


def test_make_revision_finds_nothing_to_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(schema.MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(schema, "MIGRATIONS_DIR", scripts)
    head = schema.head_revision()
    path = schema.make_revision("nothing new")
    assert path.name == f"{int(head) + 1:04d}_nothing_new.py"
    source = path.read_text()
    assert f"down_revision = '{head}'" in source
    assert "op." not in source  # autogenerate found no differences


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db.example:5432/bot", "postgresql+psycopg://u:p@db.example:5432/bot"),
        ("postgresql://u@db/bot?sslmode=require", "postgresql+psycopg://u@db/bot?sslmode=require"),
        ("postgresql+psycopg://u@db/bot", "postgresql+psycopg://u@db/bot"),
        ("sqlite:///data/bot.db", "sqlite:///data/bot.db"),
    ],
)
def test_normalise_url(given: str, expected: str) -> None:
    assert normalise_url(given).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql://u@db/bot"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        normalise_url(url)


def _schema_diffs(store: Store) -> list[object]:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return [
            diff[0] if isinstance(diff, list) else diff for diff in compare_metadata(context, Base.metadata)
        ]


def _sql_time(store: Store, value: datetime) -> object:
    """A timestamp as the 0001 schema stores it: naive UTC text on SQLite, timestamptz on PostgreSQL."""
    return value.replace(tzinfo=None).isoformat(" ") if store.engine.dialect.name == "sqlite" else value
