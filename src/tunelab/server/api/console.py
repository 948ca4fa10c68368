"""Console routes: append lines (deduplicated by batch id), read them as a live tail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from tunelab.server.api.deps import Conn
from tunelab.server.api.scalar_models import ConsoleBatchIn
from tunelab.server.api.task_models import INT64_MAX
from tunelab.store import console
from tunelab.store.lookup import require_task

router = APIRouter(tags=["console"])

MAX_LINES_PER_READ = 10_000


@router.post("/tasks/{task_id}/console")
def post_console(task_id: str, body: ConsoleBatchIn, conn: Conn) -> dict[str, Any]:
    require_task(conn, task_id)
    lines = [console.ConsoleLine(line.stream, line.text, line.ts) for line in body.lines]
    result = console.append_lines(conn, task_id, lines, batch_id=body.batch_id)
    return {"stored": result.stored, "duplicate": result.duplicate}


@router.get("/tasks/{task_id}/console")
def get_console(
    task_id: str,
    conn: Conn,
    after: Annotated[
        int, Query(ge=0, le=INT64_MAX, description="seq of the last line already read")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LINES_PER_READ)] = 1000,
    search: Annotated[str | None, Query(max_length=1000)] = None,
) -> dict[str, Any]:
    require_task(conn, task_id)
    page = console.read_lines(conn, task_id, after=after, limit=limit, search=search)
    return {
        "lines": [
            {"seq": line.seq, "stream": line.stream, "text": line.text, "ts": line.ts}
            for line in page.lines
        ],
        "next": page.next,
    }
