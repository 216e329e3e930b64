"""Record who approved or denied a step's undo and when, on the step (backfilled from the audit log): the card and
the requester's notices say who undid a change, not only who asked.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store import columns

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The last decision on the step's last undo request (none when it is still waiting or expired unanswered).
_LATEST = (
    "(SELECT audit_log.{column} FROM audit_log WHERE audit_log.step_id = steps.id "
    "AND audit_log.action IN ('undo.approved', 'undo.denied') AND audit_log.id > COALESCE("
    "(SELECT MAX(asked.id) FROM audit_log asked WHERE asked.step_id = steps.id "
    "AND asked.action = 'undo.requested'), 0) ORDER BY audit_log.id DESC LIMIT 1)"
)


def upgrade() -> None:
    with op.batch_alter_table("steps") as batch_op:
        batch_op.add_column(sa.Column("undo_decided_by", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("undo_decided_at", columns.UTCDateTime(), nullable=True))
    op.execute(
        f"UPDATE steps SET undo_decided_by = {_LATEST.format(column='actor')}, "
        f"undo_decided_at = {_LATEST.format(column='at')}"
    )


def downgrade() -> None:
    with op.batch_alter_table("steps") as batch_op:
        batch_op.drop_column("undo_decided_at")
        batch_op.drop_column("undo_decided_by")
