"""upload warnings on tasks: the uploads of a task's files that failed

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_upload_failures",
        sa.Column(
            "task_id",
            sa.String(32),
            sa.ForeignKey("tasks.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("path", sa.Text, nullable=False, server_default=""),
        sa.Column("host", sa.String(256), nullable=False, server_default=""),
        sa.Column("uri", sa.Text, nullable=False, server_default=""),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("record", sa.JSON, nullable=False),
        sa.Column("created", sa.Float(precision=53), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("task_upload_failures")
