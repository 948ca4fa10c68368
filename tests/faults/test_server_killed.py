"""The server SIGKILLed while four real scripts log 250k points each, then restarted on the
same port and data dir: every point arrives exactly once (the SDK spools and resends with
the same batch ids, the server de-duplicates batches it stored before its answer was lost)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.faults.readback import stored_count, stored_iterations
from tests.scripts import script_env, unique, write_script
from tests.services import ServerProcess
from tests.waiting import wait_for
from tunelab.sdk.transport import ApiClient

SCRIPTS = 4
SERIES = [("loss", "train"), ("loss", "val"), ("accuracy", "val"), ("lr", "schedule")]
POINTS = 250_000  # per script, over all its series
PER_SERIES = POINTS // len(SERIES)
CHUNK = 1_000  # iterations logged between two short pauses
# Generous: on a busy machine (and under the scripts' resends) the server may answer slowly.
START_TIMEOUT = 120

# Paced so that logging takes a few seconds: the kill must land while points still flow.
TRAIN = f"""
import time
from tunelab import Task

task = Task.init(project_name=PROJECT, task_name=NAME)
print("task", task.id, flush=True)
logger = task.get_logger()
for start in range(0, {PER_SERIES}, {CHUNK}):
    for i in range(start, min(start + {CHUNK}, {PER_SERIES})):
        for metric, variant in {SERIES!r}:
            logger.report_scalar(metric, variant, i * 0.5, i)
    time.sleep(0.05)
print("logged", flush=True)
"""


def _task_id(out: Path) -> str | None:
    """The id the script printed, once its line is whole (the file is read while written)."""
    text = out.read_text() if out.exists() else ""
    for line in text.split("\n")[:-1]:  # the last piece may be a line still being written
        words = line.split()
        if len(words) == 2 and words[0] == "task" and len(words[1]) == 32:
            return words[1]
    return None


@pytest.mark.slow
def test_server_killed_mid_stream_every_point_arrives_once(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    client = ApiClient(server.url, timeout=10)
    project = unique("faults/killed")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        server.start(timeout=START_TIMEOUT)
        for n in range(SCRIPTS):
            folder = tmp_path / f"run{n}"
            script = write_script(folder, f"PROJECT = {project!r}\nNAME = 'w{n}'\n" + TRAIN)
            # The exit waits for the resend instead of leaving the data for `tunelab sync`.
            env = script_env(server.url, folder, TUNELAB_EXIT_TIMEOUT="120")
            with open(folder / "out", "wb") as out, open(folder / "err", "wb") as err:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, str(script)], cwd=folder, env=env, stdout=out, stderr=err
                    )
                )
        outs = [tmp_path / f"run{n}" / "out" for n in range(SCRIPTS)]
        ids: list[str] = wait_for(
            lambda: (found := [_task_id(out) for out in outs]) and all(found) and found,
            timeout=90,
            what="every script to create its task",
        )

        total = SCRIPTS * POINTS
        stored = wait_for(
            lambda: (n := sum(stored_count(client, t) for t in ids)) >= total // 5 and n,
            timeout=60,
            what="a fifth of the points to be stored",
        )
        server.stop(kill=True)
        assert stored < total, "the kill came after every point was in: nothing was tested"
        time.sleep(3)  # the scripts go on logging into their spools
        server.start(timeout=START_TIMEOUT)

        for proc in procs:
            assert proc.wait(timeout=120) == 0
        for n, task_id in enumerate(ids):
            err = (tmp_path / f"run{n}" / "err").read_text()
            assert "keeping data in" in err and "answers again" in err, err
            assert client.get_task(task_id)["status"] == "completed"
            series = stored_iterations(client, task_id)
            assert sorted(series) == sorted(SERIES)
            for key, iterations in series.items():
                assert len(iterations) == PER_SERIES, (task_id, key)
                assert iterations == list(range(PER_SERIES)), (task_id, key)
            assert stored_count(client, task_id) == POINTS
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        client.close()
        server.stop()
