"""SkyPilot's side of the cloud launcher: a process of an interpreter where ``sky`` is
installed, answering one JSON line per request line on stdin.

It imports nothing of Tunelab, so it runs in any environment that has SkyPilot (``pip
install tunelab[cloud]`` in the launcher's own, or a separate one named with ``tunelab
launcher --sky-python``): SkyPilot pins its own versions of the web stack Tunelab's server
uses, and need not share an environment with it. ``launchers.cloud`` starts it once and keeps
it: importing SkyPilot takes seconds.

Requests (``{"op": ..., ...}``) and answers (``{"ok": true, "result": ...}`` or
``{"ok": false, "error": "..."}``):

    validate  tasks: [task YAML dicts]      → [{"error": "", "task": SkyPilot's own dict}]
    launch    task, cluster, idle_minutes   → request id (sky.launch, autodown: down=True)
    status    clusters, requests            → {cluster: {cluster, request, error, job}}
    cancel    cluster                       → the job is cancelled (sky.cancel)
    down      cluster, request              → the launch aborted, the cluster torn down
    cost      task                          → hourly price in dollars, or null
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any


def _sky() -> Any:
    """SkyPilot, imported on first use (seconds: the bridge answers nothing before)."""
    return importlib.import_module("sky")


def _task(config: dict[str, Any]) -> Any:
    return _sky().Task.from_yaml_config(config)


def validate(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each task through SkyPilot's own parser (its YAML schema, ``sky.Task``,
    ``sky.Resources``); its own dict of the task back, or why it refused it."""
    answers = []
    for config in tasks:
        try:
            parsed = _task(config)
            own = parsed.to_yaml_config()
            own.pop("_user_specified_yaml", None)
            own["secrets"] = {name: "" for name in own.get("secrets") or {}}
            answers.append({"error": "", "task": own})
        except Exception as exc:  # SkyPilot's many error types: the message is the answer
            answers.append({"error": f"{type(exc).__name__}: {exc}", "task": None})
    return answers


def launch(task: dict[str, Any], cluster: str, idle_minutes: int) -> str:
    sky = _sky()
    request = sky.launch(
        _task(task), cluster_name=cluster, idle_minutes_to_autostop=idle_minutes, down=True
    )
    return str(request)


def status(clusters: list[str], requests: dict[str, str]) -> dict[str, Any]:
    """The clusters' states, their launch requests' states, and their job's state."""
    sky = _sky()
    found = {c.name: c for c in sky.get(sky.status(clusters, refresh=sky.StatusRefreshMode.AUTO))}
    asked = [r for r in requests.values() if r]
    launches = {p.request_id: p for p in sky.api_status(asked)} if asked else {}
    out: dict[str, Any] = {}
    for name in clusters:
        record = found.get(name)
        request = launches.get(requests.get(name, ""))
        job = None
        if record is not None and str(record.status.value) == "UP":
            jobs = sky.get(sky.queue(name))
            if jobs:
                job = str(max(jobs, key=lambda j: j.job_id).status.value)
        out[name] = {
            "cluster": None if record is None else str(record.status.value),
            "request": None if request is None else str(request.status),
            "error": "" if request is None else str(request.error or ""),
            "job": job,
        }
    return out


def cancel(cluster: str) -> None:
    sky = _sky()
    sky.get(sky.cancel(cluster, all=True))


def down(cluster: str, request: str) -> None:
    sky = _sky()
    if request:
        sky.api_cancel(request, silent=True)
    sky.down(cluster)  # not waited for: tearing down takes minutes


def cost(task: dict[str, Any]) -> float | None:
    """The hourly price of the task's instance from SkyPilot's catalog; None when the
    resources name no instance, or the catalog is not on this machine and cannot be had."""
    try:
        resources = next(iter(_task(task).resources))
        if resources.cloud is None or resources.instance_type is None:
            return None
        return float(resources.get_cost(3600))
    except Exception:  # no catalog, no network: the price is unknown, not an error
        return None


def answer(request: dict[str, Any]) -> Any:
    op = request.get("op")
    if op == "validate":
        return validate(request["tasks"])
    if op == "launch":
        return launch(request["task"], request["cluster"], int(request["idle_minutes"]))
    if op == "status":
        return status(request["clusters"], request.get("requests") or {})
    if op == "cancel":
        return cancel(request["cluster"])
    if op == "down":
        return down(request["cluster"], request.get("request") or "")
    if op == "cost":
        return cost(request["task"])
    raise ValueError(f"unknown op {op!r}")


def main() -> None:
    out = sys.stdout
    sys.stdout = sys.stderr  # SkyPilot's own prints must not mix with the answers
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = {"ok": True, "result": answer(json.loads(line))}
        except Exception as exc:
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
