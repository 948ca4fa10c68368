"""Experiments made through the real API for page tests: tasks with inputs and scalars."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.scripts import unique


def create_task(
    http: httpx.Client,
    project: str,
    name: str,
    *,
    status: str = "draft",
    hyperparameters: dict[str, dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A task made with POST /api/v1/tasks; ``hyperparameters`` as ``{section: {name: value}}``
    (the type is taken from the Python value)."""
    body: dict[str, Any] = {"name": name, "project": project, "status": status, **fields}
    if hyperparameters:
        body["hyperparameters"] = {
            section: {
                key: {"value": _text(value), "type": type(value).__name__, "description": ""}
                for key, value in params.items()
            }
            for section, params in hyperparameters.items()
        }
    response = http.post("/api/v1/tasks", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def report_scalars(
    http: httpx.Client, task_id: str, metric: str, variant: str, values: list[float]
) -> None:
    """Points 0..n-1 of ``metric``/``variant``, one second apart, ending now."""
    n = len(values)
    start = time.time() - n
    series = {
        "metric": metric,
        "variant": variant,
        "iterations": list(range(n)),
        "values": values,
        "timestamps": [start + i for i in range(n)],
    }
    response = http.post(f"/api/v1/tasks/{task_id}/scalars", json={"series": [series]})
    assert response.status_code == 200, response.text


def project_name(prefix: str = "web") -> str:
    """A project of the test's own: the session's server is shared."""
    return unique(prefix)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
