"""Remember, per mailbox of a bulk step, whether a write turning it off was sent: a retry counts a mailbox it
finds off as the bot's (late) change, and Undo puts its prior value back, only then.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bulk_mailboxes") as batch_op:
        batch_op.add_column(sa.Column("write_sent", sa.Boolean(), server_default=sa.false(), nullable=False))
    # Rows from before: a mailbox that reached `writing` was sent a write, so it is off, failed after a write, or
    # still in flight; a failed one may also have failed unread, which the rows cannot tell: left false (the
    # safe side, Undo never writes where the bot may not have).
    rows = sa.table("bulk_mailboxes", sa.column("state", sa.String()), sa.column("write_sent", sa.Boolean()))
    op.execute(rows.update().where(rows.c.state.in_(["off", "writing", "restoring", "restored"]))
               .values(write_sent=True))


def downgrade() -> None:
    with op.batch_alter_table("bulk_mailboxes") as batch_op:
        batch_op.drop_column("write_sent")
