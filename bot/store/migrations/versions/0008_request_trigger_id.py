"""Store Slack's trigger_id on the request a command opened, unique: the insert itself drops a redelivery, so
intake is one write (no separate duplicate-delivery lease).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("change_requests") as batch_op:
        batch_op.add_column(sa.Column("trigger_id", sa.String(), nullable=True))
        batch_op.create_index("ix_change_requests_trigger_id", ["trigger_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("change_requests") as batch_op:
        batch_op.drop_index("ix_change_requests_trigger_id")
        batch_op.drop_column("trigger_id")
