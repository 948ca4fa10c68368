"""metric directions per project: which way each metric improves

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_directions",
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("metric", sa.String(length=512), nullable=False),
        sa.Column("variant", sa.String(length=512), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("updated", sa.Float(precision=53), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_metric_directions_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "project_id", "metric", "variant", name=op.f("pk_metric_directions")
        ),
    )


def downgrade() -> None:
    op.drop_table("metric_directions")
