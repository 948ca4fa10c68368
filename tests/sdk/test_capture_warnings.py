"""Capture never breaks a script: argparse and click scripts run with every Tunelab hook
broken (tests/sdk/capture/faulty_hooks.py) print and exit exactly as they do with nothing
broken; each failure is printed once as ``tunelab: could not capture …`` and listed in the
task's ``capture_warnings`` (the API, ``export_task()``). Offline runs keep them for
``tunelab sync``; the API refuses bad warnings with a 4xx."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.scripts import script_env, unique, write_script
from tests.sdk.capture import faulty_hooks
from tests.services import ServerProcess
from tunelab.sdk.transport import ApiClient

ARGPARSE = """
import argparse, sys, joblib
from tunelab import Task

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1, help="learning rate")
parser.add_argument("--code", type=int, default=0)
args = parser.parse_args()
args = parser.parse_args()          # a second parse: its failure is printed once only
task = Task.init(project_name=sys.argv[-1] if False else "{project}", task_name="argparse")
print("TASK", task.id)
print("lr is", args.lr)
print("to stderr", file=sys.stderr)
joblib.dump({{"weights": [1, 2]}}, "model.joblib")
print("EXPORT", sorted(w["what"] for w in task.export_task()["capture_warnings"]))
sys.exit(args.code)
"""

CLICK = """
import sys, click
from tunelab import Task

@click.command()
@click.option("--epochs", type=int, default=2, help="how long")
def main(epochs):
    task = Task.init(project_name="{project}", task_name="click")
    print("TASK", task.id)
    for epoch in range(epochs):
        print("epoch", epoch)
    raise ValueError("the script's own error")

main()
"""


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[ApiClient]:
    with ApiClient(server.url) as api:
        yield api


def _run(
    script: Path, env: dict[str, str], *args: str, broken: bool
) -> subprocess.CompletedProcess[str]:
    wrapper = [
        sys.executable,
        faulty_hooks.__file__,
        *(["--broken"] if broken else []),
        str(script),
    ]
    return subprocess.run(
        [*wrapper, *args], cwd=script.parent, env=env, capture_output=True, text=True, timeout=90
    )


def _own_output(text: str) -> list[str]:
    """The script's own lines: without Tunelab's announcement, warnings and task ids."""
    return [
        line
        for line in text.splitlines()
        if not line.startswith(
            ("Tunelab: task ", "tunelab: could not capture ", "TASK ", "EXPORT ")
        )
    ]


def _task_id(stdout: str) -> str:
    return next(x for x in stdout.splitlines() if x.startswith("TASK ")).split()[1]


def _printed_warnings(stderr: str) -> list[str]:
    prefix = "tunelab: could not capture "
    return [
        line[len(prefix) :].split(":")[0] for line in stderr.splitlines() if line.startswith(prefix)
    ]


@pytest.mark.parametrize(
    ("body", "args", "code", "expected"),
    [
        (
            ARGPARSE,
            ("--lr", "0.5", "--code", "3"),
            3,
            {
                "the argparse arguments",
                "the console output",
                "the source code",
                "the installed packages",
                "the model saved with joblib.dump",
                "the run's exit status",
                "the system metrics",
            },
        ),
        (
            CLICK,
            ("--epochs", "3"),
            1,
            {
                "the click arguments",
                "the console output",
                "the source code",
                "the installed packages",
                "the run's exit status",
                "the system metrics",
            },
        ),
    ],
    ids=["argparse", "click"],
)
def test_a_script_runs_as_without_tunelab_when_every_hook_breaks(
    server: ServerProcess,
    client: ApiClient,
    tmp_path: Path,
    body: str,
    args: tuple[str, ...],
    code: int,
    expected: set[str],
) -> None:
    script = write_script(tmp_path / "code", body.format(project=unique("faulty")))
    # Homes of their own: the faulty run must not take over the clean run's task.
    clean = _run(script, script_env(server.url, tmp_path / "clean"), *args, broken=False)
    faulty = _run(script, script_env(server.url, tmp_path / "faulty"), *args, broken=True)

    assert clean.returncode == faulty.returncode == code, faulty.stderr
    assert _own_output(faulty.stdout) == _own_output(clean.stdout)
    assert _own_output(faulty.stderr) == _own_output(clean.stderr), faulty.stderr
    assert _printed_warnings(clean.stderr) == []
    printed = _printed_warnings(faulty.stderr)
    assert sorted(printed) == sorted(set(printed)), "each failure is printed once"
    assert set(printed) == expected
    assert faulty_hooks.FAULT in faulty.stderr

    task = client.get_task(_task_id(faulty.stdout))
    recorded = task["capture_warnings"]
    assert {w["what"] for w in recorded} == expected
    assert all(faulty_hooks.FAULT in w["reason"] and w["time"] > 0 for w in recorded)
    assert client.get_task(_task_id(clean.stdout))["capture_warnings"] == []
    if body is ARGPARSE:  # export_task() carries those recorded before it
        exported = next(x for x in faulty.stdout.splitlines() if x.startswith("EXPORT "))
        assert "the argparse arguments" in exported and "the console output" in exported


OFFLINE = """
import argparse
from tunelab import Task

Task.set_offline(True)
task = Task.init(project_name="{project}", task_name="offline")
argparse.ArgumentParser().parse_args([])
print("OFFLINE", sorted(w["what"] for w in task.export_task()["capture_warnings"]))
"""


def test_an_offline_run_keeps_its_warnings_for_sync(
    server: ServerProcess, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("faulty-offline")
    script = write_script(tmp_path / "code", OFFLINE.format(project=project))
    env = script_env(server.url, tmp_path / "home")
    run = _run(script, env, broken=True)
    assert run.returncode == 0, run.stderr
    assert "OFFLINE ['the argparse arguments', 'the console output'" in run.stdout
    folder = next(Path(p) for p in (tmp_path / "home" / ".tunelab" / "offline").iterdir())
    synced = subprocess.run(
        [sys.executable, "-m", "tunelab.cli.main", "sync", str(folder)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert synced.returncode == 0, synced.stderr
    (task,) = client.list_tasks(project=project)["items"]
    recorded = client.get_task(task["id"])["capture_warnings"]
    assert {"the argparse arguments", "the source code"} <= {w["what"] for w in recorded}


def test_the_api_appends_and_refuses_bad_warnings(server: ServerProcess, client: ApiClient) -> None:
    task = client.create_task({"name": "warned", "project": unique("warned"), "status": "running"})
    answer = client.record_capture_warnings(
        task["id"], [{"what": "the diff", "reason": "git timed out", "time": 1.7e9}]
    )
    assert answer == {
        "capture_warnings": [{"what": "the diff", "reason": "git timed out", "time": 1.7e9}],
        "dropped": 0,
    }
    url = f"{server.url}/api/v1/tasks/{task['id']}/capture-warnings"
    for bad in (
        {"warnings": [{"what": ""}]},
        {"warnings": [{"what": "x", "time": -1}]},
        {"warnings": [{"what": "x", "extra": 1}]},
        {"warnings": [{"what": "x"}] * 101},
        {"warnings": "x"},
    ):
        refused = httpx.post(url, json=bad, timeout=30)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "invalid_input"
    client.update_task(task["id"], status="completed")
    client.publish_task(task["id"])
    refused = httpx.post(url, json={"warnings": [{"what": "late"}]}, timeout=30)
    assert refused.status_code == 409, refused.text
    assert [w["what"] for w in client.get_task(task["id"])["capture_warnings"]] == ["the diff"]


def test_a_spooled_warning_is_replayed_in_order(client: ApiClient) -> None:
    """What the reporter writes to its spool when the server is away, and sends once back."""
    from tunelab.sdk import session_log

    task = client.create_task({"name": "spooled", "project": unique("spool"), "status": "running"})
    ops = [
        session_log.op_for_call(
            "record_capture_warnings", task["id"], [{"what": f"hook {n}", "reason": "x"}]
        )
        for n in (1, 2)
    ]
    replayed = [session_log.Op.from_line(op.to_line()) for op in ops]
    for op in replayed:
        session_log.apply(client, op)
    recorded = client.get_task(task["id"])["capture_warnings"]
    assert [w["what"] for w in recorded] == ["hook 1", "hook 2"]
