"""keys scoped to one task; who enqueued a waiting task

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.String(length=32)
Time = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "task_keys",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("task_id", Id, nullable=False),
        sa.Column("worker_id", sa.String(length=256), nullable=False),
        sa.Column("owner_id", Id, nullable=True),
        sa.Column("created", Time, nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_task_keys_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_task_keys_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_task_keys")),
    )
    op.create_index(op.f("ix_task_keys_task_id"), "task_keys", ["task_id"])
    with op.batch_alter_table("queue_entries") as batch:
        batch.add_column(sa.Column("enqueued_by", Id, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("queue_entries") as batch:
        batch.drop_column("enqueued_by")
    op.drop_index(op.f("ix_task_keys_task_id"), table_name="task_keys")
    op.drop_table("task_keys")
