"""``tunelab launcher --backend slurm`` against a real Slurm cluster (tests/slurm.py) and a
real server: tasks from a real git repository go through ``sbatch`` once each and run with
their edited values and their own key; Stop cancels the job; a launcher killed and started
again follows its running job instead of losing it or submitting it twice."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.launchers.support import console_lines, draft, launcher_command, running, training_repo
from tests.scripts import script_env, unique
from tests.slurm import SlurmCluster
from tests.waiting import final_status, wait_for
from tunelab.sdk.transport import ApiClient


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    marker = '" JOB " + os.environ.get("SLURM_JOB_ID", "none")'
    return training_repo(tmp_path_factory, "slurm", marker)


@contextlib.contextmanager
def launcher(
    api_url: str, cluster: SlurmCluster, work: Path, queue: str, *options: str
) -> Iterator[subprocess.Popen[str]]:
    """A real ``tunelab launcher`` process; SIGTERM at the end (killed after 20 s)."""
    env = script_env(api_url, work, SLURM_CONF=str(cluster.conf))
    command = launcher_command(
        queue,
        "slurm",
        "--work-dir",
        str(work / "launcher"),
        "--worker-id",
        f"slurm-{queue}",
        *options,
    )
    with running(command, env, work / "launcher.log") as proc:
        yield proc


def _jobs_named(cluster: SlurmCluster, task_id: str) -> list[str]:
    out = cluster.run("squeue", "-h", "--states=all", "-n", f"tunelab-{task_id}", "-o", "%i")
    return out.split()


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def test_tasks_run_through_sbatch_once_each_with_their_edited_values(
    api_url: str, client: ApiClient, slurm: SlurmCluster, repo: tuple[Path, str], tmp_path: Path
) -> None:
    queue = unique("slurm")
    ids = [draft(client, repo, f"lr-{lr}", lr=lr) for lr in ("0.5", "0.25", "0.125")]
    client.update_task(ids[0], resources={"cpus": 1, "memory": "300M", "time_limit": "30m"})
    for task_id in ids:
        client.enqueue_task(task_id, queue=queue)
    with launcher(api_url, slurm, tmp_path, queue, "--max-jobs", "2") as proc:
        done = [final_status(client, task_id, timeout=90) for task_id in ids]
        workers = {w["id"]: w for w in client.list_workers()["items"]}
        assert f"slurm-{queue}" in workers  # a worker like an agent
        assert proc.poll() is None
    log = (tmp_path / "launcher.log").read_text()
    for task, lr in zip(done, (0.5, 0.25, 0.125), strict=True):
        console = console_lines(client, task["id"])
        assert task["status"] == "completed", (console, log)
        assert client.get_metrics(task["id"])["metrics"]["seen"]["lr"]["last"] == lr
        (job_id,) = _jobs_named(slurm, task["id"])  # submitted exactly once
        assert task["launch"]["backend"] == "slurm" and task["launch"]["job_id"] == job_id
        assert task["worker"] == f"slurm-{queue}"
        # The job ran with the task's own key, never the launcher's.
        assert f"KEY tlt_ JOB {job_id}" in console
        assert f"tunelab launcher: submitted as slurm job {job_id}" in "\n".join(console)
    # The first task's resources reached sbatch.
    first = slurm.job(done[0]["launch"]["job_id"])
    assert (first["NumCPUs"], first["TimeLimit"], first["MinMemoryNode"]) == (
        "1",
        "00:30:00",
        "300M",
    )
    # At most two jobs in flight: the third was submitted only after Slurm reported one of
    # the first two ended. The launcher's own log orders the two events; Slurm's SubmitTime
    # and EndTime do not, being whole seconds that Slurm may set after the state changes.
    *first_two, third = sorted(done, key=lambda task: int(task["launch"]["job_id"]))
    lines = log.splitlines()
    submitted = lines.index(
        f"tunelab launcher: task {third['id']} submitted as slurm job {third['launch']['job_id']}"
    )
    ended = [
        i
        for i, line in enumerate(lines)
        for task in first_two
        if f"slurm job {task['launch']['job_id']} COMPLETED;" in line
    ]
    assert ended and min(ended) < submitted, log


def test_a_job_past_its_time_limit_fails_its_task_with_time_limit(
    api_url: str, client: ApiClient, slurm: SlurmCluster, repo: tuple[Path, str], tmp_path: Path
) -> None:
    queue = unique("slurm-time")
    task_id = draft(client, repo, "slow", wait_for=str(tmp_path / "never"))
    client.update_task(task_id, resources={"time_limit": "1m"})  # Slurm's least: a minute
    client.enqueue_task(task_id, queue=queue)
    with launcher(api_url, slurm, tmp_path, queue):
        done = final_status(client, task_id, timeout=60)
        job = slurm.job(done["launch"]["job_id"])
    assert (done["status"], done["status_reason"]) == ("failed", "time limit"), console_lines(
        client, task_id
    )
    assert job["JobState"] == "TIMEOUT"
    assert "tunelab launcher: task failed: time limit" in console_lines(client, task_id)


def test_stop_cancels_the_running_job(
    api_url: str, client: ApiClient, slurm: SlurmCluster, repo: tuple[Path, str], tmp_path: Path
) -> None:
    queue = unique("slurm-stop")
    task_id = draft(client, repo, "forever", wait_for=str(tmp_path / "never"))
    client.enqueue_task(task_id, queue=queue)
    with launcher(api_url, slurm, tmp_path, queue):
        wait_for(lambda: "training" in console_lines(client, task_id), 90, "the script to start")
        job_id = client.get_task(task_id)["launch"]["job_id"]
        assert client.get_task(task_id)["launch"]["state"] == "RUNNING"
        client.stop_task(task_id)
        done = final_status(client, task_id, timeout=30)
    assert done["status"] == "stopped", console_lines(client, task_id)
    job = slurm.job(job_id)
    assert job["JobState"] in ("CANCELLED", "FAILED", "COMPLETED")
    assert "RUNNING" not in slurm.run("squeue", "-h", "-j", job_id, "-o", "%T")


def test_a_restarted_launcher_follows_its_running_job(
    api_url: str, client: ApiClient, slurm: SlurmCluster, repo: tuple[Path, str], tmp_path: Path
) -> None:
    queue = unique("slurm-restart")
    go = tmp_path / "go"
    task_id = draft(client, repo, "survivor", wait_for=str(go))
    client.enqueue_task(task_id, queue=queue)
    with launcher(api_url, slurm, tmp_path, queue) as first:
        wait_for(lambda: "training" in console_lines(client, task_id), 90, "the script to start")
        first.kill()  # no drain, no goodbye: as a crash
        first.wait()
    job_id = client.get_task(task_id)["launch"]["job_id"]
    with launcher(api_url, slurm, tmp_path, queue):
        wait_for(lambda: _found_again(tmp_path), 30, "the restart")
        assert client.get_task(task_id)["status"] == "running"
        go.touch()
        done = final_status(client, task_id, timeout=30)
        wait_for(lambda: client.get_task(task_id)["launch"]["state"] == "COMPLETED", 10,
                 "the job's end on the task")  # fmt: skip
    assert done["status"] == "completed", console_lines(client, task_id)
    assert _jobs_named(slurm, task_id) == [job_id]  # followed, not submitted again


def _found_again(work: Path) -> bool:
    return "1 found again" in (work / "launcher.log").read_text()
