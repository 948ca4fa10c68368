"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 13:41:24.302519
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "projects",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("created", sa.Float(precision=53), nullable=False),
        sa.Column("last_update", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("name", name=op.f("uq_projects_name")),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_reason", sa.Text(), server_default="", nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column("parent_id", sa.String(length=32), nullable=True),
        sa.Column("user", sa.String(length=256), server_default="", nullable=False),
        sa.Column("created", sa.Float(precision=53), nullable=False),
        sa.Column("started", sa.Float(precision=53), nullable=True),
        sa.Column("completed", sa.Float(precision=53), nullable=True),
        sa.Column("last_update", sa.Float(precision=53), nullable=False),
        sa.Column("last_iteration", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("execution", sa.JSON(), nullable=False),
        sa.Column("runtime", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_tasks_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tasks_last_update"), ["last_update"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_tasks_project_id_last_update"),
            ["project_id", "last_update"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_tasks_status"), ["status"], unique=False)

    op.create_table(
        "console_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("task_id", sa.String(length=32), nullable=False),
        sa.Column("ts", sa.Float(precision=53), nullable=False),
        sa.Column("stream", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_console_lines_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_lines")),
    )
    with op.batch_alter_table("console_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_console_lines_task_id_id"), ["task_id", "id"], unique=False
        )

    op.create_table(
        "ingested_batches",
        sa.Column("task_id", sa.String(length=32), nullable=False),
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column("created", sa.Float(precision=53), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_ingested_batches_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_id", "batch_id", name=op.f("pk_ingested_batches")),
    )
    op.create_table(
        "scalar_chunks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("task_id", sa.String(length=32), nullable=False),
        sa.Column("metric", sa.String(length=512), nullable=False),
        sa.Column("variant", sa.String(length=512), nullable=False),
        sa.Column("first_iter", sa.BigInteger(), nullable=False),
        sa.Column("last_iter", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("iterations", sa.LargeBinary(), nullable=False),
        sa.Column("values", sa.LargeBinary(), nullable=False),
        sa.Column("timestamps", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_scalar_chunks_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scalar_chunks")),
    )
    with op.batch_alter_table("scalar_chunks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scalar_chunks_task_id_metric_variant_first_iter"),
            ["task_id", "metric", "variant", "first_iter"],
            unique=False,
        )

    op.create_table(
        "task_configuration",
        sa.Column("task_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("type", sa.String(length=64), server_default="dictionary", nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_task_configuration_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_id", "name", name=op.f("pk_task_configuration")),
    )
    op.create_table(
        "task_metrics",
        sa.Column("task_id", sa.String(length=32), nullable=False),
        sa.Column("metric", sa.String(length=512), nullable=False),
        sa.Column("variant", sa.String(length=512), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("last", sa.Float(precision=53), nullable=True),
        sa.Column("last_iter", sa.BigInteger(), nullable=True),
        sa.Column("min", sa.Float(precision=53), nullable=True),
        sa.Column("min_iter", sa.BigInteger(), nullable=True),
        sa.Column("max", sa.Float(precision=53), nullable=True),
        sa.Column("max_iter", sa.BigInteger(), nullable=True),
        sa.Column("last_time", sa.Float(precision=53), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_task_metrics_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_id", "metric", "variant", name=op.f("pk_task_metrics")),
    )
    with op.batch_alter_table("task_metrics", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_task_metrics_metric_variant_last"),
            ["metric", "variant", "last"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_task_metrics_metric_variant_max"),
            ["metric", "variant", "max"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_task_metrics_metric_variant_min"),
            ["metric", "variant", "min"],
            unique=False,
        )

    op.create_table(
        "task_params",
        sa.Column("task_id", sa.String(length=32), nullable=False),
        sa.Column("section", sa.String(length=256), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=64), server_default="str", nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_task_params_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("task_id", "section", "name", name=op.f("pk_task_params")),
    )
    with op.batch_alter_table("task_params", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_task_params_section_name"), ["section", "name"], unique=False
        )

    op.create_table(
        "task_properties",
        sa.Column("task_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=64), server_default="str", nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_task_properties_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_id", "name", name=op.f("pk_task_properties")),
    )
    op.create_table(
        "task_tags",
        sa.Column("task_id", sa.String(length=32), nullable=False),
        sa.Column("tag", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_task_tags_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("task_id", "tag", name=op.f("pk_task_tags")),
    )
    with op.batch_alter_table("task_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_tags_tag"), ["tag"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("task_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_tags_tag"))

    op.drop_table("task_tags")
    op.drop_table("task_properties")
    with op.batch_alter_table("task_params", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_params_section_name"))

    op.drop_table("task_params")
    with op.batch_alter_table("task_metrics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_metrics_metric_variant_min"))
        batch_op.drop_index(batch_op.f("ix_task_metrics_metric_variant_max"))
        batch_op.drop_index(batch_op.f("ix_task_metrics_metric_variant_last"))

    op.drop_table("task_metrics")
    op.drop_table("task_configuration")
    with op.batch_alter_table("scalar_chunks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scalar_chunks_task_id_metric_variant_first_iter"))

    op.drop_table("scalar_chunks")
    op.drop_table("ingested_batches")
    with op.batch_alter_table("console_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_lines_task_id_id"))

    op.drop_table("console_lines")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_status"))
        batch_op.drop_index(batch_op.f("ix_tasks_project_id_last_update"))
        batch_op.drop_index(batch_op.f("ix_tasks_parent_id"))
        batch_op.drop_index(batch_op.f("ix_tasks_name"))
        batch_op.drop_index(batch_op.f("ix_tasks_last_update"))

    op.drop_table("tasks")
    op.drop_table("projects")
