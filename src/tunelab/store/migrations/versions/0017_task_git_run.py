"""git runs on tasks: the commit, edits, script and results branch of a run from a repository

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("git_run", sa.JSON(), nullable=True))


def downgrade() -> None:
    # SQLite drops the column in place: rebuilding the table would drop the old one, and
    # with it (ON DELETE CASCADE) every task's scalars, parameters and outputs.
    with op.batch_alter_table("tasks", recreate="never") as batch:
        batch.drop_column("git_run")
