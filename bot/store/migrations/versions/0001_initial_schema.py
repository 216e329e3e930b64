"""Initial schema: change requests and steps, audit log (append-only triggers), probes, alerts, outbox, leases.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store import columns

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = (
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END""",
)
POSTGRESQL_TRIGGERS = (
    """CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
       END $$""",
    """CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
       FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""",
    """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
       FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()""",
)


def upgrade() -> None:
    op.create_table(
        "change_requests",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("upn", sa.String(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("requester", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("message_ts", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("created_at", columns.UTCDateTime(), nullable=False),
        sa.Column("expires_at", columns.UTCDateTime(), nullable=False),
        sa.Column("diagnosis", columns.JSONType, nullable=False),
        sa.Column("options", columns.JSONType, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_requests")),
    )
    op.create_index(op.f("ix_change_requests_state"), "change_requests", ["state"])

    op.create_table(
        "steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("handler_key", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("before", columns.JSONType, nullable=True),
        sa.Column("after", columns.JSONType, nullable=True),
        sa.Column("proposed", columns.JSONType, nullable=True),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("decided_at", columns.UTCDateTime(), nullable=True),
        sa.Column("applied_at", columns.UTCDateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", columns.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["change_requests.id"], name=op.f("fk_steps_request_id_change_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_steps")),
        sa.UniqueConstraint("request_id", "position", name=op.f("uq_steps_request_id_position")),
    )
    op.create_index(op.f("ix_steps_request_id"), "steps", ["request_id"])
    op.create_index(op.f("ix_steps_state"), "steps", ["state"])

    op.create_table(
        "audit_log",
        sa.Column("id", columns.BigId, nullable=False),
        sa.Column("at", columns.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=True),
        sa.Column("step_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.String(), nullable=True),
        sa.Column("before", columns.JSONType, nullable=True),
        sa.Column("after", columns.JSONType, nullable=True),
        sa.Column("detail", columns.JSONType, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    for statement in POSTGRESQL_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)

    op.create_table(
        "probe_results",
        sa.Column("id", columns.BigId, nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("mailbox", sa.String(), nullable=False),
        sa.Column("at", columns.UTCDateTime(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("phase", sa.String(), nullable=True),
        sa.Column("cause", sa.String(), nullable=True),
        sa.Column("code", sa.Integer(), nullable=True),
        sa.Column("enhanced_status", sa.String(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("timings", columns.JSONType, nullable=True),
        sa.Column("tls_version", sa.String(), nullable=True),
        sa.Column("cert_days_left", sa.Integer(), nullable=True),
        sa.Column("auth_mode", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_probe_results")),
    )
    op.create_index(op.f("ix_probe_results_target_at"), "probe_results", ["target", "at"])

    op.create_table(
        "alert_state",
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("consecutive_successes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("incident_id", sa.String(), nullable=True),
        sa.Column("alert_channel", sa.String(), nullable=True),
        sa.Column("alert_ts", sa.String(), nullable=True),
        sa.Column("last_cause", sa.String(), nullable=True),
        sa.Column("last_reply", sa.Text(), nullable=True),
        sa.Column("first_failure_at", columns.UTCDateTime(), nullable=True),
        sa.Column("last_failure_at", columns.UTCDateTime(), nullable=True),
        sa.Column("last_reminder_at", columns.UTCDateTime(), nullable=True),
        sa.Column("snoozed_until", columns.UTCDateTime(), nullable=True),
        sa.Column("history", columns.JSONType, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", columns.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("target", name=op.f("pk_alert_state")),
    )

    op.create_table(
        "outbox",
        sa.Column("id", columns.BigId, nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("payload", columns.JSONType, nullable=False),
        sa.Column("dedupe_key", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", columns.UTCDateTime(), nullable=False),
        sa.Column("created_at", columns.UTCDateTime(), nullable=False),
        sa.Column("delivered_at", columns.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", columns.JSONType, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
    )
    op.create_index(op.f("ix_outbox_state_next_attempt_at"), "outbox", ["state", "next_attempt_at"])

    op.create_table(
        "leases",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("acquired_at", columns.UTCDateTime(), nullable=False),
        sa.Column("expires_at", columns.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    for table in (
        "leases",
        "outbox",
        "alert_state",
        "probe_results",
        "audit_log",
        "steps",
        "change_requests",
    ):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_log_append_only()")
