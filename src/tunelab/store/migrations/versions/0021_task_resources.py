"""resources and launch on tasks: what a task asks of its machine, and the job it runs in

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("resources", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("launch", sa.JSON(), nullable=True))


def downgrade() -> None:
    # SQLite drops the column in place: rebuilding the table would drop the old one, and
    # with it (ON DELETE CASCADE) every task's scalars, parameters and outputs.
    with op.batch_alter_table("tasks", recreate="never") as batch:
        batch.drop_column("launch")
        batch.drop_column("resources")
