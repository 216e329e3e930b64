"""Record on the request who chose Apply anyway and when (backfilled from the first request.apply_anyway row).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store import columns

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_FIRST = (
    "(SELECT audit_log.{column} FROM audit_log WHERE audit_log.request_id = change_requests.id "
    "AND audit_log.action = 'request.apply_anyway' ORDER BY audit_log.id LIMIT 1)"
)


def upgrade() -> None:
    with op.batch_alter_table("change_requests") as batch_op:
        batch_op.add_column(sa.Column("applied_anyway_by", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("applied_anyway_at", columns.UTCDateTime(), nullable=True))
    op.execute(
        f"UPDATE change_requests SET applied_anyway_by = {_FIRST.format(column='actor')}, "
        f"applied_anyway_at = {_FIRST.format(column='at')}"
    )


def downgrade() -> None:
    with op.batch_alter_table("change_requests") as batch_op:
        batch_op.drop_column("applied_anyway_at")
        batch_op.drop_column("applied_anyway_by")
