"""Liveness: answers when the server and its database do."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter

from tunelab import __version__
from tunelab.server.api.deps import Conn

router = APIRouter(tags=["health"])


@router.get("/health")
def health(conn: Conn) -> dict[str, str]:
    conn.execute(sa.text("SELECT 1"))
    return {"status": "ok", "version": __version__}
