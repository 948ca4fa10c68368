"""queues, queue entries and workers; where a task waits or runs, and stop requests

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 14:30:00.000000
"""

from __future__ import annotations

import time
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queue_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("worker_id", sa.String(length=256), nullable=True))
        batch_op.add_column(
            sa.Column("stop_requested", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    queues = op.create_table(
        "queues",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("created", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queues")),
        sa.UniqueConstraint("name", name=op.f("uq_queues_name")),
    )
    op.create_table(
        "queue_entries",
        sa.Column("task_id", sa.String(length=32), nullable=False),
        sa.Column("queue_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("added", sa.Float(precision=53), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["queues.id"],
            name=op.f("fk_queue_entries_queue_id_queues"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_queue_entries_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_queue_entries")),
    )
    op.create_index(
        op.f("ix_queue_entries_queue_id_position"), "queue_entries", ["queue_id", "position"]
    )
    # A queue named "default" exists from the start: enqueueing without naming a queue, and
    # an agent started without --queue, both use it.
    op.bulk_insert(queues, [{"id": uuid.uuid4().hex, "name": "default", "created": time.time()}])
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=256), nullable=False),
        sa.Column("queues", sa.JSON(), nullable=False),
        sa.Column("task_id", sa.String(length=32), nullable=True),
        sa.Column("host", sa.String(length=256), server_default="", nullable=False),
        sa.Column("registered", sa.Float(precision=53), nullable=False),
        sa.Column("last_heartbeat", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )


def downgrade() -> None:
    op.drop_table("workers")
    op.drop_index(op.f("ix_queue_entries_queue_id_position"), table_name="queue_entries")
    op.drop_table("queue_entries")
    op.drop_table("queues")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("stop_requested")
        batch_op.drop_column("worker_id")
        batch_op.drop_column("queue_id")
