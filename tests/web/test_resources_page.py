"""Resources on the Execution tab (shown, saved, cleared on a draft; refused otherwise), the
job a launcher runs a task in on the Info tab, and a launcher's jobs on the Workers page."""

from __future__ import annotations

import uuid

import httpx

from tests.web.seed import create_task, project_name

HX = {"HX-Request": "true"}


def test_resources_are_shown_saved_and_cleared_on_the_execution_tab(http: httpx.Client) -> None:
    tid = create_task(http, project_name("res"), "sized")["id"]
    base = f"/experiments/{tid}/execution"
    assert "No resources asked" in http.get(base).text
    form = http.get(f"{base}/resources?edit=1", headers=HX).text
    assert 'name="memory"' in form and 'placeholder="2:00:00, 90m, 2h"' in form
    saved = http.post(
        f"{base}/resources",
        data={"op": "save", "gpus": "2", "gpu_type": "a100", "cpus": "8", "memory": "32g",
              "time_limit": "90m", "cloud": "", "region": "", "instance_type": "",
              "disk_size": ""},
        headers=HX,
    )  # fmt: skip
    assert saved.status_code == 200, saved.text
    assert "Saved the resources" in saved.headers["HX-Trigger"]
    assert "<code>32G</code>" in saved.text and "<code>1:30:00</code>" in saved.text
    resources = http.get(f"/api/v1/tasks/{tid}").json()["resources"]
    assert (resources["gpus"], resources["cpus"], resources["memory"]) == (2, 8, "32G")
    bad = http.post(f"{base}/resources", data={"op": "save", "cpus": "many"}, headers=HX)
    assert bad.status_code == 400 and bad.headers["HX-Retarget"] == "#toasts"
    bad = http.post(f"{base}/resources", data={"op": "save", "time_limit": "soon"}, headers=HX)
    assert bad.status_code == 400
    assert http.post(f"{base}/resources", data={"op": "clear"}).status_code == 200
    assert http.get(f"/api/v1/tasks/{tid}").json()["resources"]["gpus"] is None
    http.patch(f"/api/v1/tasks/{tid}", json={"status": "running"})
    refused = http.post(f"{base}/resources", data={"op": "save", "cpus": "2"}, headers=HX)
    assert refused.status_code == 409


def test_the_job_of_a_launched_task_shows_on_its_info_tab_and_the_workers_page(
    http: httpx.Client,
) -> None:
    worker = f"login1:slurm:{uuid.uuid4().hex[:6]}"
    assert http.post("/api/v1/workers", json={"id": worker, "queues": ["q"]}).status_code == 200
    tid = create_task(http, project_name("res"), "launched")["id"]
    assert http.post(f"/api/v1/tasks/{tid}/start", json={"worker": worker}).status_code == 200
    launch = {"backend": "slurm", "job_id": "4242", "state": "PENDING", "reason": "Resources",
              "launcher": worker}  # fmt: skip
    assert http.patch(f"/api/v1/tasks/{tid}", json={"launch": launch}).status_code == 200
    info = http.get(f"/experiments/{tid}/info").text
    assert "<code>4242</code>" in info and "pending in Slurm: Resources" in " ".join(info.split())
    workers = " ".join(http.get("/workers").text.split())
    assert "Slurm job <code>4242</code>: pending (Resources)" in workers
    assert f'href="/experiments/{tid}">launched</a>' in workers
