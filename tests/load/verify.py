"""After the load: did every point and console line each client sent arrive exactly once, and
did every task end as it should?"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunelab.sdk.transport import ApiClient


@dataclass
class Delivery:
    points_sent: int = 0
    points_stored: int = 0
    lines_sent: int = 0
    lines_stored: int = 0
    problems: list[str] = field(default_factory=list)


def check_clients(client: ApiClient, results: Path, names: list[str]) -> Delivery:
    """Each client's series must be exactly iterations 0..steps-1 (none missing, none twice),
    its console exactly its lines in order, its task ``completed``."""
    delivery = Delivery()
    for name in names:
        path = results / f"{name}.json"
        if not path.exists():
            delivery.problems.append(f"{name}: wrote no result (it did not finish)")
            continue
        sent = json.loads(path.read_text())
        task_id, steps = sent["task_id"], sent["steps"]
        delivery.points_sent += steps * sent["metrics"]
        delivery.lines_sent += steps
        status = client.get_task(task_id)["status"]
        if status != "completed":
            delivery.problems.append(f"{name}: task {task_id} is {status}, not completed")
        metrics = client.get_scalars(task_id, max_points=0)["metrics"]
        expected_x = list(range(steps))
        for m in range(sent["metrics"]):
            series = metrics.get(f"metric{m}", {}).get("value", {"x": [], "y": []})
            delivery.points_stored += len(series["x"])
            if series["x"] != expected_x:
                delivery.problems.append(
                    f"{name}: metric{m} has {len(series['x'])} points, not iterations "
                    f"0..{steps - 1} once each"
                )
        lines = _console(client, task_id)
        delivery.lines_stored += len(lines)
        if lines != [f"step {k} of {name}" for k in range(steps)]:
            delivery.problems.append(
                f"{name}: console has {len(lines)} lines, not its {steps} lines once each "
                f"(first unexpected: {_first_difference(lines, name)!r})"
            )
    return delivery


def check_agent_tasks(client: ApiClient, task_ids: list[str]) -> list[str]:
    problems = []
    for task_id in task_ids:
        task = client.get_task(task_id)
        if task["status"] != "completed":
            problems.append(
                f"agent task {task_id} is {task['status']} ({task.get('status_reason', '')})"
            )
    return problems


def _console(client: ApiClient, task_id: str) -> list[str]:
    lines: list[str] = []
    after = 0
    while True:
        page: dict[str, Any] = client.get_console(task_id, after=after, limit=5000)
        if not page["lines"]:
            return lines
        lines.extend(line["text"] for line in page["lines"])
        after = page["next"]


def _first_difference(lines: list[str], name: str) -> str:
    for k, line in enumerate(lines):
        if line != f"step {k} of {name}":
            return line
    return "(missing at the end)"
