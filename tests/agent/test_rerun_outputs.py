"""A run re-run by a real agent keeps what it stored: its artifacts and models are uploaded
again (files of the re-run's own), and every shipped example re-runs as it is."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agents import agent_daemon
from tests.gitrepo import new_repo
from tests.scripts import run_script, script_env, unique
from tests.services import ServerProcess
from tests.waiting import final_status
from tunelab.sdk.transport import ApiClient

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# Steps that read what an earlier one stored run after it; other examples in name order.
RUN_ORDER = ["train.py", "pipeline/preprocess.py", "pipeline/train.py"]

OUTPUTS = """
from pathlib import Path
from tunelab import OutputModel, Task

task = Task.init(project_name=PROJECT, task_name="outputs")
task.upload_artifact("summary", {"accuracy": 0.9, "classes": ["cat", "dog"]})
Path("notes.txt").write_text("a file artifact")
task.upload_artifact("notes", "notes.txt")
Path("weights.bin").write_bytes(b"weights" * 100)
model = OutputModel(task=task, name="classifier", framework="custom")
model.update_weights("weights.bin")
"""


@pytest.fixture(scope="module")
def queue(server: ServerProcess, home: Path) -> Iterator[str]:
    """One agent (and so one environment cache) for the module; uv's own package cache is
    the machine's, so packages are downloaded once."""
    name = unique("rerun")
    uv_cache = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")
    with agent_daemon(server.url, home, name, env={"UV_CACHE_DIR": uv_cache}):
        yield name


def _outputs(client: ApiClient, task: dict) -> tuple[dict[str, str], dict[str, str]]:
    """``({artifact name: uri}, {model name: uri})`` of a task."""
    artifacts = {a["name"]: a["uri"] for a in client.list_artifacts(task["id"])["artifacts"]}
    models = {m["name"]: client.get_model(m["id"])["uri"] for m in task.get("output_models") or []}
    return artifacts, models


def _rerun(client: ApiClient, queue: str, original: dict) -> dict:
    draft = client.clone_task(original["id"])
    client.enqueue_task(draft["id"], queue=queue)
    done = final_status(client, draft["id"], timeout=240)
    console = "\n".join(x["text"] for x in client.get_console(draft["id"], limit=10000)["lines"])
    assert done["status"] == "completed", console
    assert "failed" not in console, console
    return done


def _assert_same_outputs(client: ApiClient, original: dict, rerun: dict) -> None:
    before = _outputs(client, client.get_task(original["id"]))
    after = _outputs(client, rerun)
    assert before[0].keys() == after[0].keys()
    assert before[1].keys() == after[1].keys()
    for name, uri in {**after[0], **after[1]}.items():
        assert rerun["id"] in uri, (name, uri)  # the re-run's own files


def test_an_agent_rerun_uploads_its_artifacts_and_models_again(
    server: ServerProcess, client: ApiClient, home: Path, queue: str
) -> None:
    project = unique("rerun")
    repo = new_repo(home / "outputs", {"train.py": f"PROJECT = {project!r}\n{OUTPUTS}"})
    local = run_script(repo / "train.py", script_env(server.url, home))
    assert local.returncode == 0, local.stderr
    original = client.get_task(client.list_tasks(project=project)["items"][0]["id"])
    artifacts, models = _outputs(client, original)
    assert set(artifacts) == {"summary", "notes"} and set(models) == {"classifier"}

    rerun = _rerun(client, queue, original)
    _assert_same_outputs(client, original, rerun)


def test_every_shipped_example_reruns_under_an_agent(
    server: ServerProcess, client: ApiClient, home: Path, queue: str
) -> None:
    shipped = sorted(p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*.py"))
    assert sorted(RUN_ORDER) == shipped, "a new example needs its place in RUN_ORDER"
    repo = home / "examples-repo"
    shutil.copytree(EXAMPLES, repo / "examples")
    new_repo_files = {str(p.relative_to(repo)): p.read_bytes() for p in repo.rglob("*.py")}
    shutil.rmtree(repo)
    new_repo(repo, new_repo_files)
    env = script_env(server.url, home)
    for example in RUN_ORDER:
        local = run_script(repo / "examples" / example, env, timeout=120)
        assert local.returncode == 0, (example, local.stderr)
        newest = client.list_tasks(project="examples", order_by="-created", page_size=1)
        ran = client.get_task(newest["items"][0]["id"])
        assert ran["execution"]["entry_point"].endswith(Path(example).name), ran
        rerun = _rerun(client, queue, ran)
        _assert_same_outputs(client, ran, rerun)
