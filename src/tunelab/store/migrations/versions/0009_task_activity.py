"""task activity: when a running task last showed a sign of life, and when a stop was asked

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("last_active", sa.Float(precision=53), nullable=True))
        batch.add_column(sa.Column("stop_requested_at", sa.Float(precision=53), nullable=True))
    # A task running at upgrade time counts as active when it was last updated.
    op.execute("UPDATE tasks SET last_active = last_update WHERE status = 'running'")


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("stop_requested_at")
        batch.drop_column("last_active")
