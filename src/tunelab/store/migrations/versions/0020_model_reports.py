"""model reports: scalars, single values, tables and line plots reported on a model

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_reports",
        sa.Column("model_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("series", sa.String(length=512), nullable=False),
        sa.Column("iteration", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("created", sa.Float(precision=53), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["models.id"],
            name=op.f("fk_model_reports_model_id_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "model_id", "kind", "title", "series", "iteration", name=op.f("pk_model_reports")
        ),
    )


def downgrade() -> None:
    op.drop_table("model_reports")
