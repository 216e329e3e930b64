"""Record when a request closed (backfilled from the audit log) and index the audit log by request.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store import columns

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("change_requests") as batch_op:
        batch_op.add_column(sa.Column("closed_at", columns.UTCDateTime(), nullable=True))
    # A request closed before this revision closed at its last audited event.
    op.execute(
        "UPDATE change_requests SET closed_at = "
        "(SELECT MAX(audit_log.at) FROM audit_log WHERE audit_log.request_id = change_requests.id) "
        "WHERE state = 'closed'"
    )
    op.create_index(op.f("ix_audit_log_request_id"), "audit_log", ["request_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_log_request_id"), table_name="audit_log")
    with op.batch_alter_table("change_requests") as batch_op:
        batch_op.drop_column("closed_at")
