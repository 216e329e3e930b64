"""Record who asked to undo a step and when on the step (backfilled from the latest undo.requested audit row).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store import columns

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_LATEST = (
    "(SELECT audit_log.{column} FROM audit_log WHERE audit_log.step_id = steps.id "
    "AND audit_log.action = 'undo.requested' ORDER BY audit_log.id DESC LIMIT 1)"
)


def upgrade() -> None:
    with op.batch_alter_table("steps") as batch_op:
        batch_op.add_column(sa.Column("undo_requested_by", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("undo_requested_at", columns.UTCDateTime(), nullable=True))
    op.execute(
        f"UPDATE steps SET undo_requested_by = {_LATEST.format(column='actor')}, "
        f"undo_requested_at = {_LATEST.format(column='at')}"
    )


def downgrade() -> None:
    with op.batch_alter_table("steps") as batch_op:
        batch_op.drop_column("undo_requested_at")
        batch_op.drop_column("undo_requested_by")
