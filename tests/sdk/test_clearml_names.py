"""The ClearML ``Task`` names scripts use most, with ClearML's meaning, against a real server
(and, for values injected into a connected class, a real agent)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agents import agent_daemon
from tests.scripts import run_script, script_env, unique, write_script
from tests.services import ServerProcess
from tests.waiting import final_status
from tunelab import Task
from tunelab.errors import Conflict
from tunelab.sdk.clearml_names import ALTERNATIVES
from tunelab.sdk.transport import ApiClient
from tunelab.task_parameters import TaskParameters, param, percent_param


@pytest.fixture(scope="module")
def agent(
    server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    queue = unique("clearml-names")
    with agent_daemon(server.url, tmp_path_factory.mktemp("agent"), queue) as proc:
        yield queue, proc


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def _run(api_url: str, home: Path, body: str, **env: str) -> dict:
    """Run ``body`` as a script outside git; the JSON it printed after ``RESULT``."""
    script = write_script(home / "code", body)
    done = run_script(script, script_env(api_url, home, GIT_CEILING_DIRECTORIES=str(home), **env))
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return dict(json.loads(line[7:]))


NAMES = """
import json
from tunelab import Logger, Task

task = Task.init(project_name=PROJECT, task_name="names", task_type=Task.TaskTypes.testing,
                 tags=["a"])
assert Logger.current_logger() is task.logger is task.get_logger()
task.set_name("renamed")
task.add_tags(["b", "a"])
task.add_tags("c")
task.set_comment("a comment")
task.set_parameter("Args/lr", 0.1, description="learning rate")
task.set_parameter("epochs", 3)
task.set_parameter("Args/layers", "[1, 2]", value_type=list)
task.set_parameter("Args/old", True)
print("RESULT " + json.dumps({
    "id": task.id,
    "project": task.get_project_name(),
    "deleted": [task.delete_parameter("Args/old"), task.delete_parameter("Args/none")],
    "lr": [task.get_parameter("Args/lr"), task.get_parameter("Args/lr", cast=True)],
    "missing": task.get_parameter("Args/none", default=5),
    "cast": task.get_parameters(cast=True),
}))
"""


def test_names_tags_comment_and_single_parameters(api_url: str, tmp_path: Path) -> None:
    project = unique("clearml/names")
    seen = _run(api_url, tmp_path, f"PROJECT = {project!r}\n{NAMES}")

    assert seen["project"] == project
    assert seen["deleted"] == [True, False]
    assert seen["lr"] == ["0.1", 0.1] and seen["missing"] == 5
    assert seen["cast"] == {"Args/lr": 0.1, "General/epochs": 3, "Args/layers": [1, 2]}
    task = Task.get_task(seen["id"])
    record = task.export_task()
    assert [record[k] for k in ("name", "type", "comment")] == ["renamed", "testing", "a comment"]
    assert task.get_tags() == ["a", "b", "c"]
    args = record["hyperparameters"]["Args"]
    assert args["lr"] == {"value": "0.1", "type": "float", "description": "learning rate"}
    assert args["layers"]["type"] == "list" and "old" not in args
    assert task.get_parameters(cast=True)["General/epochs"] == 3

    # A task read back is edited on the server at once.
    task.set_tags(["x", "x", "y"])
    task.add_tags(["z"])
    assert Task.get_task(seen["id"]).get_tags() == ["x", "y", "z"]
    with pytest.raises(Conflict, match="only a draft's inputs"):
        task.set_parameter("Args/lr", 0.2)  # as in ClearML: a run's record stays as it ran
    draft = Task.clone(task)
    draft.set_parameter("Args/lr", 0.2)
    assert draft.delete_parameter("General/epochs")
    assert Task.get_task(draft.id).get_parameters(cast=True) == {
        "Args/lr": 0.2,
        "Args/layers": [1, 2],
    }


def test_clearml_names_not_offered_say_what_to_use(api_url: str, client: ApiClient) -> None:
    task = Task.get_task(client.create_task({"name": "n", "project": unique("clearml")})["id"])
    with pytest.raises(NotImplementedError, match=r"get_status is ClearML's; .* task\.status"):
        task.get_status()
    with pytest.raises(NotImplementedError, match=r"task\.models"):
        task.get_models()
    with pytest.raises(AttributeError, match="no attribute 'no_such_method'"):
        task.no_such_method()  # type: ignore[attr-defined]
    assert not hasattr(task, "no_such_method")
    # ClearML's class methods answer too; hasattr still reads a ClearML name as absent.
    with pytest.raises(NotImplementedError, match=r"Task\.create is ClearML's; .*Task\.clone"):
        Task.create(project_name="p", task_name="t")  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="type object 'Task' has no attribute 'nope'"):
        Task.nope  # type: ignore[attr-defined]  # noqa: B018
    assert not hasattr(task, "get_status") and not hasattr(Task, "create")
    # A name Tunelab offers itself must not be listed as missing.
    offered = {name for klass in Task.__mro__ for name in vars(klass)}
    assert not set(ALTERNATIVES) & offered
    assert [t.value for t in Task.TaskTypes][:2] == ["training", "testing"]
    assert Task.TaskTypes.data_processing == "data_processing"


AGAIN = """
import json, os
from tunelab import Task
from tunelab.errors import Conflict
from tunelab.sdk.clearml_names import ALTERNATIVES

reuse = {"true": True, "false": False}.get(os.environ["REUSE"], os.environ["REUSE"])
task = Task.init(project_name=PROJECT, task_name="again", reuse_last_task_id=reuse)
task.connect({"run": os.environ["RUN"]})
if os.environ.get("REPORT"):
    task.get_logger().report_scalar("loss", "train", 1.0, iteration=0)
print("RESULT " + json.dumps({"id": task.id}))
"""


def test_reuse_last_task_id_takes_over_a_task_without_outputs(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("clearml/reuse")
    body = f"PROJECT = {project!r}\n{AGAIN}"

    def run(run: str, reuse: str = "true", report: str = "") -> str:
        return str(_run(api_url, tmp_path, body, REUSE=reuse, RUN=run, REPORT=report)["id"])

    first = run("1")
    assert run("2") == first  # no outputs: the same task, run again
    again = client.get_task(first)
    assert again["status"] == "completed"
    assert again["hyperparameters"]["General"]["run"]["value"] == "2"
    other = run("3", reuse="false")
    assert other != first
    assert run("4", reuse=first) == first  # a task id: that task
    assert run("5", report="1") == first  # the last used is `first` again; now with scalars
    fresh = run("6")
    assert fresh not in (first, other)  # `first` has outputs: never overwritten
    assert client.get_metrics(first)["metrics"]["loss"]["train"]["last"] == 1.0
    client.update_task(fresh, name="renamed in the web app")
    assert run("7") not in (first, other, fresh)  # a renamed task is the user's now
    assert client.list_tasks(project=project)["total"] == 4


def test_get_task_and_get_tasks_with_clearml_filters(client: ApiClient) -> None:
    project = unique("clearml/filters")

    def new(name: str, tags: list[str], **fields: str) -> str:
        body = {"name": name, "project": project, "tags": tags, **fields}
        return str(client.create_task(body)["id"])

    a = new("a", ["best"], status="running")
    b = new("b", ["best", "debug"])
    c = new("c", ["other"], type="testing")
    d = new("d", ["best"])
    client.archive_task(d)

    def names(**kwargs: object) -> set[str]:
        return {t.name for t in Task.get_tasks(project_name=project, **kwargs)}  # type: ignore[arg-type]

    assert names(tags=["best", "-debug"]) == {"a", "d"}
    assert names(tags=["best", "-debug"], allow_archived=False) == {"a"}
    assert names(task_filter={"system_tags": ["archived"]}) == {"d"}
    assert names(tags=["debug", "other"]) == {"b", "c"}  # any of them
    assert names(tags=["__$all", "best", "debug"]) == {"b"}
    assert names(task_filter={"status": ["in_progress"]}) == {"a"}
    assert names(task_filter={"status": ["created"], "tags": ["best"]}) == {"b", "d"}
    assert names(task_filter={"type": [Task.TaskTypes.testing]}) == {"c"}
    page = Task.get_tasks(project_name=project, task_filter={"order_by": ["name"], "page_size": 2})
    assert [t.name for t in page] == ["a", "b"]
    second = {"order_by": ["-name"], "page_size": 2, "page": 1}
    assert [t.name for t in Task.get_tasks(project_name=project, task_filter=second)] == ["b", "a"]

    assert Task.get_task(project_name=project, tags=["other"]).id == c
    assert Task.get_task(project_name=project, task_filter={"status": ["in_progress"]}).id == a
    assert Task.get_task(project_name=project, task_name="b").id == b
    with pytest.raises(NotImplementedError, match="bogus"):
        Task.get_tasks(project_name=project, task_filter={"bogus": 1})

    # Projects by name, as ClearML's scripts look them up.
    project_id = Task.get_project_id(project)
    assert project_id == client.get_task(a)["project"]["id"]
    assert Task.get_project_id(project + "/none") is None
    found_projects = {p.name: p for p in Task.get_projects()}
    assert found_projects[project].id == project_id
    assert found_projects[project].name == project

    # query_tasks: the same search, ids only (or the fields asked for), nothing loaded.
    assert set(Task.query_tasks(project_name=project, tags=["best", "-debug"])) == {a, d}
    found = Task.query_tasks(
        project_name=project, task_name="c", additional_return_fields=["name", "status"]
    )
    assert found == [{"id": c, "name": "c", "status": "draft"}]  # as the API names it


class Params(TaskParameters):
    iterations = param(type=int, desc="Number of iterations", range=(0, 1000), default=10)
    target = percent_param(desc="Target accuracy", default=0.5)


def test_task_parameters_cast_and_check_their_values() -> None:
    params = Params(iterations=20)
    assert params.to_dict() == {"iterations": 20, "target": 0.5}
    params.update_from_dict({"iterations": "30", "target": "0.25", "unknown": 1})
    assert (params.iterations, params.target) == (30, 0.25)
    with pytest.raises(ValueError, match="'iterations': 5000 is outside"):
        Params(iterations=5000)
    with pytest.raises(ValueError, match="'target'"):
        params.target = 1.5
    with pytest.raises(ValueError, match="'iterations'"):
        params.iterations = "many"


CONNECTED = """
import json
from tunelab import Task
from tunelab.errors import Conflict
from tunelab.sdk.clearml_names import ALTERNATIVES
from tunelab.task_parameters import TaskParameters, param, percent_param

class Config:
    batch = 32
    optimizer = "sgd"

class Params(TaskParameters):
    iterations = param(type=int, desc="Number of iterations", range=(0, 1000), default=10)
    target = percent_param(desc="Target accuracy", default=0.5)

task = Task.init(project_name=PROJECT, task_name="connected")
task.connect(Config, name="Config")
params = task.connect(Params(), name="Params")
seen = {"batch": Config.batch, "optimizer": Config.optimizer, "iterations": params.iterations,
        "target": params.target, "types": [type(Config.batch).__name__,
                                           type(params.iterations).__name__]}
print("RESULT " + json.dumps(seen), flush=True)
"""


def test_a_connected_class_and_task_parameters_take_an_agents_values(
    api_url: str, client: ApiClient, tmp_path: Path, agent: tuple[str, subprocess.Popen[str]]
) -> None:
    queue, _ = agent
    project = unique("clearml/connect")
    local = _run(api_url, tmp_path, f"PROJECT = {project!r}\n{CONNECTED}")
    assert local == {"batch": 32, "optimizer": "sgd", "iterations": 10, "target": 0.5,
                     "types": ["int", "int"]}  # fmt: skip
    original = client.list_tasks(project=project)["items"][0]
    params = client.get_task(original["id"])["hyperparameters"]
    assert params["Config"]["batch"] == {"value": "32", "type": "int", "description": ""}
    assert params["Params"]["iterations"] == {
        "value": "10",
        "type": "int",
        "description": "Number of iterations (range: 0 to 1000)",
    }
    assert params["Params"]["target"]["description"] == "Target accuracy (range: 0 to 1)"

    draft = client.clone_task(original["id"])

    def p(value: str, kind: str) -> dict[str, str]:
        return {"value": value, "type": kind, "description": ""}

    body = {
        "Config": {"batch": p("64", "int"), "optimizer": p("adam", "str")},
        "Params": {"iterations": p("500", "int"), "target": p("0.75", "float")},
    }
    client.set_hyperparameters(draft["id"], body)
    client.enqueue_task(draft["id"], queue=queue)

    done = final_status(client, draft["id"], timeout=180)
    console = "\n".join(x["text"] for x in client.get_console(draft["id"], limit=10000)["lines"])
    assert done["status"] == "completed", console
    line = next(x for x in console.splitlines() if x.startswith("RESULT "))
    assert json.loads(line[7:]) == {"batch": 64, "optimizer": "adam", "iterations": 500,
                                    "target": 0.75, "types": ["int", "int"]}  # fmt: skip
