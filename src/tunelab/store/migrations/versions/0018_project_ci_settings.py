"""CI settings of a project's linked repository: the CI setup wizard's last saved fields

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("project_repositories") as batch:
        batch.add_column(sa.Column("ci_settings", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("project_repositories") as batch:
        batch.drop_column("ci_settings")
