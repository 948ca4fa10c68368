"""numeric parameter index on PostgreSQL: only numbers a double can hold

A float parameter written "1e999" matched the old pattern, and PostgreSQL refuses to cast it
to DOUBLE PRECISION (out of range), so storing it failed. The pattern now bounds the digits
(200 before the point, 200 after it) and the exponent (two digits), which keeps every match
between about 1e-300 and 1e300; other values are not indexed as numbers (they sort after
the numbers, like any text). SQLite's cast gives infinity instead of failing: unchanged.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_INDEX = "ix_task_params_section_name_number"
# Frozen copies of schema.PARAM_NUMBER_SQL["postgresql"] before and as of this revision.
_BEFORE = (
    "CASE WHEN type IN ('int', 'float') "
    "AND value ~ '^[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?$' "
    "THEN CAST(value AS DOUBLE PRECISION) END"
)
_NOW = (
    "CASE WHEN type IN ('int', 'float') "
    "AND value ~ '^[-+]?([0-9]{1,200}(\\.[0-9]{0,200})?|\\.[0-9]{1,200})([eE][-+]?[0-9]{1,2})?$' "
    "THEN CAST(value AS DOUBLE PRECISION) END"
)


def upgrade() -> None:
    _rebuild(_NOW)


def downgrade() -> None:
    _rebuild(_BEFORE)


def _rebuild(expression: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(_INDEX, table_name="task_params")
    op.create_index(_INDEX, "task_params", ["section", "name", sa.text(f"({expression})")])
