"""System metrics of real scripts against the real server: the machine's readings arrive as
``:monitor:machine`` scalars with plausible values, against seconds from the start or
against the script's iterations (ClearML's rule); switched off, none arrive."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.scripts import run_script, script_env, unique, write_script
from tunelab.domain import system_metrics as S
from tunelab.sdk.transport import ApiClient

# Short periods so a run of a few seconds reports several times.
FAST = {"sample_frequency_per_sec": 10, "report_frequency_sec": 0.5}

BURN = """
import time
from tunelab import Task

task = Task.init(project_name={project!r}, task_name="burn", auto_resource_monitoring={monitoring})
print("TASK", task.id)
logger = task.get_logger()
end = time.monotonic() + {seconds}
step = 0
while time.monotonic() < end:          # burns most of a core
    sum(i * i for i in range(20000))
    time.sleep(0.0005)  # lets the monitor's thread have the interpreter on a busy host
    if {report_iterations}:
        step += 1
        logger.report_scalar("loss", "train", 1.0 / step, iteration=step)
"""


@pytest.fixture(scope="module")
def client(server: Any) -> Iterator[ApiClient]:
    with ApiClient(server.url) as api:
        yield api


def _run(
    api_url: str,
    tmp_path: Path,
    monitoring: object,
    *,
    report_iterations: bool = False,
    seconds: float = 5,
    **env: str,
) -> str:
    project = unique("sdk/monitor")
    body = BURN.format(
        project=project,
        monitoring=monitoring,
        report_iterations=report_iterations,
        seconds=seconds,
    )
    script = write_script(tmp_path / "code", body)
    result = run_script(script, script_env(api_url, tmp_path, **env))
    assert result.returncode == 0, result.stderr
    assert "could not capture" not in result.stderr  # no warning, GPU or not
    return next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("TASK"))


def test_machine_metrics_arrive_with_plausible_values(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    monitoring = {**FAST, "wait_for_first_iteration_to_start_sec": 0}
    task_id = _run(api_url, tmp_path, monitoring)
    machine = client.get_scalars(task_id)["metrics"][S.TITLE_MACHINE]
    total_gb = psutil.virtual_memory().total / 1024**3
    cpu = machine[S.CPU_USAGE]["y"]
    assert len(cpu) >= 2 and max(cpu) > 0
    assert all(0 <= v <= 100 for v in cpu)
    assert all(0 < v < total_gb for v in machine[S.MEMORY_USED_GB]["y"])
    assert all(0 < v < total_gb for v in machine[S.MEMORY_FREE_GB]["y"])
    assert all(0 <= v <= 100 for v in machine[S.DISK_FREE_PERCENT]["y"])
    for rate in (S.IO_READ_MBS, S.IO_WRITE_MBS, S.NETWORK_RX_MBS, S.NETWORK_TX_MBS):
        assert all(v >= 0 for v in machine[rate]["y"]), rate
    # No iterations reported: the x axis is seconds from the start.
    xs = machine[S.CPU_USAGE]["x"]
    assert xs == sorted(xs) and xs[-1] <= 7
    # No GPU here: one line on the task's console says so, and no warning.
    task = client.get_task(task_id)
    assert task["capture_warnings"] == []
    console = [line["text"] for line in client.get_console(task_id, limit=1000)["lines"]]
    assert sum("GPU monitoring is off" in line for line in console) == 1


def test_metrics_follow_the_scripts_iterations(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    # Long before seconds would be used: the script's iterations are the x axis.
    monitoring = {**FAST, "wait_for_first_iteration_to_start_sec": 60}
    task_id = _run(api_url, tmp_path, monitoring, report_iterations=True)
    metrics = client.get_scalars(task_id, max_points=0)["metrics"]
    steps = set(metrics["loss"]["train"]["x"])
    xs = metrics[S.TITLE_MACHINE][S.CPU_USAGE]["x"]
    assert xs and set(xs) <= steps and max(xs) > 100  # thousands of steps in 2 s


@pytest.mark.parametrize("how", ["on", "argument", "config file"])
def test_the_config_file_sets_it_and_off_means_none(
    api_url: str, client: ApiClient, tmp_path: Path, how: str
) -> None:
    # Periods short enough that a monitor, if one ran, would report within the run.
    config = tmp_path / "tunelab.toml"
    config.write_text(
        "[resource_monitoring]\n"
        f"enabled = {'false' if how == 'config file' else 'true'}\n"
        "sample_frequency_per_sec = 10\nreport_frequency_sec = 0.5\n"
        "wait_for_first_iteration_to_start_sec = 0\n"
    )
    env = {"TUNELAB_CONFIG_FILE": str(config)}
    monitoring = how != "argument"
    task_id = _run(api_url, tmp_path, monitoring, report_iterations=True, seconds=3, **env)
    metrics = client.get_scalars(task_id)["metrics"]
    assert "loss" in metrics
    system = [m for m in metrics if S.is_system_metric(m)]
    assert system == ([S.TITLE_MACHINE] if how == "on" else [])
