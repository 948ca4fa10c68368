"""``tunelab launcher --backend cloud``: the SkyPilot task built from the Run form's Cloud tab is
checked by SkyPilot itself (the real ``skypilot`` from PyPI: its YAML schema, ``sky.Task`` and
``sky.Resources`` against a local catalog, no network), and a launcher against a real server
takes tasks, hands the checked task to the launch call, and maps the instance's states to the
task's outcome (spot preemption launched again once, then ``preempted``; Stop cancels the job
and tears the instance down; a restarted launcher follows its instance).

No cloud is reachable here: SkyPilot's launch, status, cancel and down calls are the one
boundary replaced (``LaunchReplaced``), everything else is real.
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx
import pytest

from tests.scripts import unique
from tests.sky import sky_bridge_in
from tests.waiting import final_status, wait_for
from tunelab.domain.resources import Resources
from tunelab.launchers.base import JobRequest, Launcher
from tunelab.launchers.cloud import Cloud, SkyBridge
from tunelab.launchers.cloud_task import cluster_name, sky_task, task_yaml
from tunelab.sdk.transport import ApiClient
from tunelab.server.web.git_run_cloud import cloud_resources

COMMAND = ["tunelab", "agent", "execute", "--work-dir", "~/tunelab"]


def _job(resources: Mapping[str, Any], task_id: str = "4f2a" * 8) -> JobRequest:
    env = {
        "TUNELAB_API_URL": "http://tunelab.example:8080",
        "TUNELAB_API_TOKEN": "tlt_task_key",
        "TUNELAB_LAUNCHER": "cloud",
        "AWS_SECRET_ACCESS_KEY": "the launcher's own",
        "PYTHONUNBUFFERED": "1",
    }
    command = [*COMMAND, "--id", task_id]
    return JobRequest(task_id, "train", Resources.from_dict(resources), command, env)


@pytest.fixture(scope="module")
def sky_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SkyBridge]:
    """SkyPilot imported once for the module."""
    with sky_bridge_in(tmp_path_factory.mktemp("sky-home")) as bridge:
        yield bridge


def test_the_form_s_cloud_instance_is_a_task_skypilot_accepts(sky_bridge: SkyBridge) -> None:
    form = {"cloud": "aws", "region": "us-east-1", "instance_type": "m5.xlarge",
            "accelerators": "", "disk_size": "100G"}  # fmt: skip
    spot = sky_task(_job(cloud_resources(form, spot=True)))
    gpus = sky_task(_job(cloud_resources({"cloud": "aws", "accelerators": "A100:8"}, False)))
    unknown = sky_task(_job(cloud_resources({**form, "instance_type": "m5.huge"}, False)))
    checked = sky_bridge.validate([spot, gpus, unknown])

    assert [c["error"] for c in checked[:2]] == ["", ""]
    own = checked[0]["task"]  # SkyPilot's own reading of the task
    wanted = {"infra": "aws/us-east-1", "instance_type": "m5.xlarge", "use_spot": True,
              "disk_size": 100}  # fmt: skip
    assert {k: own["resources"].get(k) for k in wanted} == wanted
    assert own["run"].strip() == f"exec {shlex.join(COMMAND)} --id {'4f2a' * 8}"
    assert own["envs"] == {"TUNELAB_API_URL": "http://tunelab.example:8080",
                           "TUNELAB_LAUNCHER": "cloud", "PYTHONUNBUFFERED": "1"}  # fmt: skip
    assert list(own["secrets"]) == ["TUNELAB_API_TOKEN"]  # the key is a secret, not an env
    assert checked[1]["task"]["resources"] == {"infra": "aws", "accelerators": {"A100": 8}}
    assert "m5.huge" in checked[2]["error"]  # SkyPilot's catalog has no such instance
    # The page shows the task with its key masked; the price comes from the local catalog.
    assert "tlt_task_key" not in task_yaml(spot) and "the launcher's own" not in task_yaml(spot)
    assert sky_bridge.cost(spot) == pytest.approx(0.07)


class LaunchReplaced:
    """SkyPilot with its launch, status, cancel and down calls replaced (no cloud here):
    it records what they are given and answers the states the test sets. Checking a task
    and pricing it go to the real SkyPilot."""

    def __init__(self, real: SkyBridge) -> None:
        self.real = real
        self.launched: list[tuple[dict[str, Any], str, int]] = []
        self.cancelled: list[str] = []
        self.downed: list[str] = []
        self.clusters: dict[str, dict[str, Any]] = {}

    def validate(self, tasks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return self.real.validate(tasks)

    def cost(self, task: Mapping[str, Any]) -> float | None:
        return self.real.cost(task)

    def launch(self, task: Mapping[str, Any], cluster: str, idle_minutes: int) -> str:
        self.launched.append((dict(task), cluster, idle_minutes))
        self.clusters[cluster] = {"cluster": None, "request": "RUNNING", "job": None}
        return f"request-{len(self.launched)}"

    def status(
        self, clusters: Sequence[str], requests: Mapping[str, str]
    ) -> dict[str, dict[str, Any]]:
        gone = {"cluster": None, "request": None, "job": None}
        return {c: dict(self.clusters.get(c, gone)) for c in clusters}

    def cancel(self, cluster: str) -> None:
        self.cancelled.append(cluster)

    def down(self, cluster: str, request: str) -> None:
        self.downed.append(cluster)

    def set(self, cluster: str, state: str | None, job: str | None = None) -> None:
        self.clusters[cluster] = {"cluster": state, "request": "SUCCEEDED", "job": job}


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


class Running:
    """A launcher serving in a thread of this process."""

    def __init__(self, client: ApiClient, queue: str, engine: LaunchReplaced) -> None:
        self.cloud = Cloud(engine, idle_minutes=7, spot_relaunches=1)
        self.launcher = Launcher(client, f"cloud-{queue}", queue, self.cloud, max_jobs=2,
                                 command=COMMAND, stop_grace=0.5, poll_timeout=1,
                                 check_interval=0.1)  # fmt: skip
        self.thread = threading.Thread(target=self.launcher.serve, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.launcher.shutdown()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


def _queued(client: ApiClient, queue: str, name: str, resources: dict[str, Any]) -> str:
    task = client.create_task({"name": name, "project": unique("cloud"), "resources": resources})
    client.enqueue_task(task["id"], queue=queue)
    return str(task["id"])


def _launch(client: ApiClient, task_id: str) -> dict[str, Any]:
    return dict(client.get_task(task_id).get("launch") or {})


def test_a_launcher_launches_each_task_and_follows_its_instance(
    client: ApiClient, sky_bridge: SkyBridge
) -> None:
    queue = unique("cloud")
    engine = LaunchReplaced(sky_bridge)
    spot = {"cloud": "aws", "region": "us-east-1", "instance_type": "m5.xlarge", "spot": True}
    preempted = _queued(client, queue, "preempted", spot)
    stopped = _queued(client, queue, "stopped", {"cloud": "aws", "instance_type": "m5.xlarge"})
    running = Running(client, queue, engine)
    try:
        wait_for(lambda: len(engine.launched) == 2, 30, "two launches")
        (first, cluster, idle), _ = engine.launched
        assert cluster == cluster_name(preempted) and idle == 7
        assert first["resources"] == {"infra": "aws/us-east-1", "instance_type": "m5.xlarge",
                                      "use_spot": True}  # fmt: skip
        assert first["run"].strip().endswith(f"--id {preempted} --stop-grace 0.5")
        # The job gets the task's own key (a secret), never the launcher's.
        assert first["secrets"]["TUNELAB_API_TOKEN"].startswith("tlt_")
        assert first["envs"]["TUNELAB_API_URL"] == client.api_url
        wait_for(lambda: _launch(client, preempted).get("cost") == "$0.07/h", 10, "the cost")
        record = _launch(client, preempted)
        assert (record["backend"], record["job_id"], record["state"]) == (
            "cloud", cluster, "LAUNCHING")  # fmt: skip
        info = httpx.get(f"{client.api_url}/experiments/{preempted}/info", timeout=30).text
        assert "launching in Cloud" in info and "$0.07/h" in info  # the task's Info tab

        engine.set(cluster, "UP", "RUNNING")
        wait_for(lambda: _launch(client, preempted).get("state") == "RUNNING", 10, "running")
        engine.set(cluster, None)  # the spot instance is gone: launched again, once
        wait_for(lambda: len(engine.launched) == 3, 10, "the relaunch")
        assert engine.launched[2][1] == cluster
        wait_for(lambda: _launch(client, preempted).get("state") == "LAUNCHING", 10, "relaunching")
        engine.set(cluster, "UP", "RUNNING")
        wait_for(lambda: _launch(client, preempted).get("state") == "RUNNING", 10, "running again")
        engine.set(cluster, "STOPPED")  # preempted again: the task fails
        done = final_status(client, preempted, timeout=10)
        assert (done["status"], done["status_reason"]) == ("failed", "preempted")
        assert len(engine.launched) == 3

        other = cluster_name(stopped)
        engine.set(other, "UP", "RUNNING")
        wait_for(lambda: _launch(client, stopped).get("state") == "RUNNING", 10, "running")
        client.stop_task(stopped)
        wait_for(lambda: engine.cancelled == [other], 10, "sky cancel")
        engine.set(other, "UP", "CANCELLED")
        assert final_status(client, stopped, timeout=10)["status"] == "stopped"
        wait_for(lambda: other in engine.downed, 10, "sky down")  # no idle minutes after Stop
    finally:
        running.stop()


def test_a_restarted_launcher_follows_its_instance(
    client: ApiClient, sky_bridge: SkyBridge
) -> None:
    queue = unique("cloud-restart")
    engine = LaunchReplaced(sky_bridge)
    task_id = _queued(client, queue, "survivor", {"cloud": "aws", "instance_type": "m5.xlarge"})
    first = Running(client, queue, engine)
    try:
        wait_for(lambda: engine.launched, 30, "the launch")
        cluster = cluster_name(task_id)
        engine.set(cluster, "UP", "RUNNING")
        wait_for(lambda: _launch(client, task_id).get("state") == "RUNNING", 10, "running")
    finally:
        first.stop()  # its instance runs on
    again = Running(client, queue, engine)
    try:
        wait_for(lambda: task_id in again.launcher.jobs, 10, "the job found again")
        engine.set(cluster, "UP", "SETTING_UP")
        wait_for(lambda: _launch(client, task_id).get("state") == "SETTING_UP", 10, "setup")
        assert _launch(client, task_id)["cost"] == "$0.19/h"  # on demand; kept across restarts
        engine.set(cluster, "UP", "FAILED_SETUP")
        done = final_status(client, task_id, timeout=10)
        assert (done["status"], done["status_reason"]) == (
            "failed", "the cloud instance's setup failed")  # fmt: skip
        assert len(engine.launched) == 1  # followed, not launched again
    finally:
        again.stop()
