"""Record who snoozed an alert and the incident and cause the snooze was set on (a snooze set before is kept
for the incident open now, if any, and its cause).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_state") as batch_op:
        batch_op.add_column(sa.Column("snoozed_by", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("snoozed_incident", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("snoozed_cause", sa.String(), nullable=True))
    op.execute(
        "UPDATE alert_state SET snoozed_incident = incident_id, snoozed_cause = last_cause "
        "WHERE snoozed_until IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("alert_state") as batch_op:
        batch_op.drop_column("snoozed_cause")
        batch_op.drop_column("snoozed_incident")
        batch_op.drop_column("snoozed_by")
