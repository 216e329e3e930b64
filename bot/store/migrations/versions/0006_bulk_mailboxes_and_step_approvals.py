"""Bulk steps' mailboxes (each one's prior value and progress) and the approvals a step has collected so far.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store import columns

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bulk_mailboxes",
        sa.Column("id", columns.BigId, nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("upn", sa.String(), nullable=False),
        sa.Column("prior", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", columns.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["step_id"], ["steps.id"], name=op.f("fk_bulk_mailboxes_step_id_steps")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_mailboxes")),
        sa.UniqueConstraint("step_id", "upn", name=op.f("uq_bulk_mailboxes_step_id_upn")),
    )
    with op.batch_alter_table("bulk_mailboxes") as batch_op:
        batch_op.create_index(batch_op.f("ix_bulk_mailboxes_step_id_state"), ["step_id", "state"], unique=False)
    with op.batch_alter_table("steps") as batch_op:
        batch_op.add_column(sa.Column("approvals", columns.JSONType, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("steps") as batch_op:
        batch_op.drop_column("approvals")
    with op.batch_alter_table("bulk_mailboxes") as batch_op:
        batch_op.drop_index(batch_op.f("ix_bulk_mailboxes_step_id_state"))
    op.drop_table("bulk_mailboxes")
