"""artifacts and models: task artifacts, the model registry with tags, a task's input model

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("input_model_id", sa.String(length=32), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_tasks_input_model_id"), ["input_model_id"], unique=False
        )
    op.create_table(
        "task_artifacts",
        sa.Column("task_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("type", sa.String(length=64), server_default="", nullable=False),
        sa.Column("format", sa.String(length=64), server_default="", nullable=False),
        sa.Column("uri", sa.Text(), server_default="", nullable=False),
        sa.Column("size", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("sha256", sa.String(length=64), server_default="", nullable=False),
        sa.Column("preview", sa.Text(), server_default="", nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created", sa.Float(precision=53), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_task_artifacts_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_id", "name", name=op.f("pk_task_artifacts")),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("task_id", sa.String(length=32), nullable=True),
        sa.Column("framework", sa.String(length=128), server_default="", nullable=False),
        sa.Column("uri", sa.Text(), server_default="", nullable=False),
        sa.Column("config_text", sa.Text(), server_default="", nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column("published", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("created", sa.Float(precision=53), nullable=False),
        sa.Column("last_update", sa.Float(precision=53), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_models_project_id_projects")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_models_task_id_tasks"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_models")),
    )
    op.create_index(op.f("ix_models_project_id_created"), "models", ["project_id", "created"])
    op.create_index(op.f("ix_models_created"), "models", ["created"])
    op.create_index(op.f("ix_models_framework"), "models", ["framework"])
    op.create_index(op.f("ix_models_name"), "models", ["name"])
    op.create_index(op.f("ix_models_task_id"), "models", ["task_id"])
    op.create_table(
        "model_tags",
        sa.Column("model_id", sa.String(length=32), nullable=False),
        sa.Column("tag", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["models.id"],
            name=op.f("fk_model_tags_model_id_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_id", "tag", name=op.f("pk_model_tags")),
    )
    op.create_index(op.f("ix_model_tags_tag"), "model_tags", ["tag"])


def downgrade() -> None:
    op.drop_index(op.f("ix_model_tags_tag"), table_name="model_tags")
    op.drop_table("model_tags")
    for index in ("task_id", "name", "framework", "created", "project_id_created"):
        op.drop_index(op.f(f"ix_models_{index}"), table_name="models")
    op.drop_table("models")
    op.drop_table("task_artifacts")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_input_model_id"))
        batch_op.drop_column("input_model_id")
