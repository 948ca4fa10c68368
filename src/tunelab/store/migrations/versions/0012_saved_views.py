"""saved table views per project; metric summary indexes end in the task id for cursor pages

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_VALUES = ("last", "min", "max")


def upgrade() -> None:
    op.create_table(
        "saved_views",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("layout", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        sa.Column("created", sa.Float(precision=53), nullable=False),
        sa.Column("last_update", sa.Float(precision=53), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_saved_views_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_saved_views_project_id_name")),
    )
    with op.batch_alter_table("task_metrics", schema=None) as batch_op:
        for value in _VALUES:
            batch_op.drop_index(batch_op.f(f"ix_task_metrics_metric_variant_{value}"))
            batch_op.create_index(
                batch_op.f(f"ix_task_metrics_metric_variant_{value}_task_id"),
                ["metric", "variant", value, "task_id"],
                unique=False,
            )


def downgrade() -> None:
    with op.batch_alter_table("task_metrics", schema=None) as batch_op:
        for value in _VALUES:
            batch_op.drop_index(batch_op.f(f"ix_task_metrics_metric_variant_{value}_task_id"))
            batch_op.create_index(
                batch_op.f(f"ix_task_metrics_metric_variant_{value}"),
                ["metric", "variant", value],
                unique=False,
            )
    op.drop_table("saved_views")
