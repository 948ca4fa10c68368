"""Reading back what the server stored: every point of every series, duplicates included."""

from __future__ import annotations

from tunelab.sdk.transport import ApiClient


def stored_iterations(client: ApiClient, task_id: str) -> dict[tuple[str, str], list[int]]:
    """Every stored point's iteration, per (metric, variant), in the order the server keeps
    them; a point stored twice shows up twice."""
    metrics = client.get_scalars(task_id, max_points=0)["metrics"]
    found: dict[tuple[str, str], list[int]] = {}
    for metric, variants in metrics.items():
        for variant, data in variants.items():
            assert data["total"] == len(data["x"]), "a full read must return every point"
            found[metric, variant] = [int(x) for x in data["x"]]
    return found


def stored_count(client: ApiClient, task_id: str) -> int:
    """Points stored for the task, from the cheap per-series summaries."""
    metrics = client.get_metrics(task_id)["metrics"]
    return sum(summary["count"] for variants in metrics.values() for summary in variants.values())
