"""models can be archived: hidden from the models table without being deleted

A model's network (``config_text``) and label enumeration (``labels``) are stored since
0004; the models table adds archiving beside editing them.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.add_column(
            sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.drop_column("archived")
