"""capture warnings on tasks: what the SDK could not record of a run, and why

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 06:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("capture_warnings", sa.JSON(), nullable=True))


def downgrade() -> None:
    # SQLite drops the column in place: rebuilding the table would drop the old one, and
    # with it (ON DELETE CASCADE) every task's scalars, parameters and outputs.
    with op.batch_alter_table("tasks", recreate="never") as batch:
        batch.drop_column("capture_warnings")
