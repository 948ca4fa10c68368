"""task listing indexes: for counting, for sorting by times and by numeric parameters

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 14:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TIME_COLUMNS = ("created", "started", "completed")

# A frozen copy of schema.PARAM_NUMBER_SQL as of this revision: a migration must keep
# building the same index even after the application's code moves on.
_PARAM_NUMBER_SQL = {
    "sqlite": (
        "CASE WHEN type IN ('int', 'float') AND value GLOB '*[0-9]*' "
        "AND value NOT GLOB '*[^0-9eE.+-]*' THEN CAST(value AS REAL) END"
    ),
    "postgresql": (
        "CASE WHEN type IN ('int', 'float') "
        "AND value ~ '^[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?$' "
        "THEN CAST(value AS DOUBLE PRECISION) END"
    ),
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tasks_project_id_archived_status"),
            ["project_id", "archived", "status"],
            unique=False,
        )
        for column in _TIME_COLUMNS:
            batch_op.create_index(batch_op.f(f"ix_tasks_{column}"), [column], unique=False)
    op.create_index(
        "ix_task_params_section_name_number",
        "task_params",
        ["section", "name", sa.text(f"({_PARAM_NUMBER_SQL[dialect]})")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_task_params_section_name_number", table_name="task_params")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        for column in _TIME_COLUMNS:
            batch_op.drop_index(batch_op.f(f"ix_tasks_{column}"))
        batch_op.drop_index(batch_op.f("ix_tasks_project_id_archived_status"))
