"""scalar chunks whose iterations step evenly store no iteration array

From this revision a chunk whose iterations step evenly (a training loop's 0, 1, 2, ...)
stores an empty ``iterations``: ``first_iter``, ``last_iter`` and ``count`` say them. Chunks
stored before keep their arrays and read as before, so upgrading changes no row. Code from
before this revision would read an empty array as no iterations: migrating down writes the
arrays of such chunks back.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 12:00:00.000000
"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

# Chunks rewritten per statement on the way down (up to 200k points each).
ROWS_PER_ROUND = 100

chunks = sa.table(
    "scalar_chunks",
    sa.column("id", sa.BigInteger),
    sa.column("first_iter", sa.BigInteger),
    sa.column("last_iter", sa.BigInteger),
    sa.column("count", sa.Integer),
    sa.column("iterations", sa.LargeBinary),
)


def upgrade() -> None:
    pass


def downgrade() -> None:
    conn = op.get_bind()
    c = chunks.c
    last_id = 0
    while True:
        rows = conn.execute(
            sa.select(c.id, c.first_iter, c.last_iter, c["count"])
            .where(sa.func.length(c.iterations) == 0, c["count"] > 1, c.id > last_id)
            .order_by(c.id)
            .limit(ROWS_PER_ROUND)
        ).all()
        if not rows:
            return
        conn.execute(
            chunks.update().where(c.id == sa.bindparam("chunk")),
            [
                {"chunk": chunk, "iterations": _run(first, last, count).tobytes()}
                for chunk, first, last, count in rows
            ],
        )
        last_id = rows[-1][0]


def _run(first: int, last: int, count: int) -> np.ndarray:
    # As the store reads such a chunk: int64 arithmetic, which lands on every point.
    step = (last - first) // (count - 1)
    return first + step * np.arange(count, dtype="<i8")
