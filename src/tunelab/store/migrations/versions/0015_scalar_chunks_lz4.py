"""scalar chunks' arrays compressed with lz4 on PostgreSQL

PostgreSQL compresses large values with pglz unless told otherwise: 250-330 ms of the
server's time per 200k-point batch, where lz4 takes 15-20 ms (about what storing them
uncompressed costs) for 10-20 % more disk. The column's method applies to every value
stored in it from now on, whatever a session's ``default_toast_compression`` says, so no
server or database setting is needed; values stored before keep pglz and read as before.
Needs PostgreSQL 14 built with lz4 (as the PGDG and Debian packages are); elsewhere the
columns keep pglz and the migration logs why. SQLite stores the arrays as they are.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 07:00:00.000000
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

ARRAYS = ("iterations", "values", "timestamps")
log = logging.getLogger("tunelab.store.migrations")


def why_not_lz4(server_version_num: int, toast_compressions: list[str] | None) -> str | None:
    """Why a server cannot store columns with lz4, or None if it can.

    ``toast_compressions`` are the values ``default_toast_compression`` accepts (None where
    the setting does not exist): lz4 is among them only on a server built with it.
    """
    if server_version_num < 140000:
        major = server_version_num // 10000
        return f"PostgreSQL {major} has no per-column compression (lz4 needs 14 or newer)"
    if "lz4" not in (toast_compressions or []):
        return "this PostgreSQL server was built without lz4 (configure --with-lz4)"
    return None


def _set_compression(method: str) -> None:
    for column in ARRAYS:
        op.execute(f'ALTER TABLE scalar_chunks ALTER COLUMN "{column}" SET COMPRESSION {method}')


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    version = int(conn.scalar(sa.text("SELECT current_setting('server_version_num')")))
    accepted = conn.scalar(
        sa.text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
    )
    reason = why_not_lz4(version, accepted)
    if reason is not None:
        log.warning("scalar arrays stay compressed with pglz (slower ingest): %s", reason)
        return
    _set_compression("lz4")


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    if int(conn.scalar(sa.text("SELECT current_setting('server_version_num')"))) < 140000:
        return
    _set_compression("DEFAULT")
