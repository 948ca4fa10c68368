"""Pipelines end to end: real agents run the steps as tasks from a real git repository.

data -> train -> evaluate, each a clone of a base task: train gets data's artifact URL and
task id through references, evaluate gets train's artifact and a parameter; the values
arrive in the scripts with their types. A second run reuses the cached data step. Function
steps run under the agent, and a failing step fails the pipeline, naming it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.agents import agent_daemon
from tests.gitrepo import new_repo
from tests.scripts import run_script, script_env, unique
from tests.services import ServerProcess
from tests.waiting import final_status, wait_for
from tunelab.cli.main import cli
from tunelab.pipelines import PipelineController, PipelineDecorator
from tunelab.sdk.transport import ApiClient

HEAD = """
import json
from tunelab import Task

def show(name, values):
    print("TYPES " + json.dumps({"step": name, **{k: type(v).__name__ for k, v in values.items()}}))
"""
DATA = (
    HEAD
    + """
task = Task.init(project_name="p", task_name="data")
p = task.connect({"rows": None, "scale": None, "label": None}, name="Step")
show("data", p)
table = {"x": [i * p["scale"] for i in range(p["rows"])]}
task.upload_artifact("table", table, wait_on_upload=True)
"""
)
TRAIN = (
    HEAD
    + """
task = Task.init(project_name="p", task_name="train")
p = task.connect({"data_url": None, "data_task": None, "epochs": None}, name="Step")
show("train", p)
table = Task.get_task(task_id=p["data_task"]).artifacts["table"].get()
print("TABLE", p["data_url"].startswith("tunelab://"), len(table["x"]))
task.upload_artifact("weights", {"w": sum(table["x"]) * p["epochs"]}, wait_on_upload=True)
"""
)
EVALUATE = (
    HEAD
    + """
task = Task.init(project_name="p", task_name="evaluate")
p = task.connect({"weights_url": None, "epochs": None, "note": None}, name="Step")
show("evaluate", p)
"""
)
FAILING = (
    HEAD
    + """
Task.init(project_name="p", task_name="broken")
raise RuntimeError("no data today")
"""
)


@pytest.fixture(scope="module")
def queue(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Two agent daemons serving one queue, so independent steps run side by side."""
    name = unique("pipe")
    with ExitStack() as stack:
        for _ in range(2):
            home = tmp_path_factory.mktemp("agent")
            stack.enter_context(agent_daemon(server.url, home, name))
        yield name


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def _base_tasks(client: ApiClient, project: str, repo: Path) -> dict[str, str]:
    """A draft per script, its code committed in ``repo``."""
    files = {"data.py": DATA, "train.py": TRAIN, "evaluate.py": EVALUATE, "broken.py": FAILING}
    new_repo(repo, files)
    ids = {}
    for entry in files:
        execution = {"repository": str(repo), "branch": "main", "entry_point": entry,
                     "working_dir": "."}  # fmt: skip
        body = {"name": entry[:-3], "project": project, "status": "draft", "execution": execution}
        ids[entry[:-3]] = client.create_task(body)["id"]
    return ids


def _types(client: ApiClient, task_id: str) -> dict[str, str]:
    lines = [x["text"] for x in client.get_console(task_id, limit=10000)["lines"]]
    found = [json.loads(x[6:]) for x in lines if x.startswith("TYPES ")]
    assert found, lines
    return dict(found[-1])


def _dag(client: ApiClient, controller_id: str) -> dict[str, Any]:
    text = client.get_task(controller_id)["configuration"]["Pipeline"]["text"]
    return {step["name"]: step for step in json.loads(text)["steps"]}


def _three_steps(project: str, ids: dict[str, str], queue: str) -> PipelineController:
    pipe = PipelineController(name="churn", project=project, version="1.0", pool_period=0.2)
    pipe.add_parameter("rows", 4, "rows to make")
    pipe.set_default_execution_queue(queue)
    pipe.add_step(
        "data", base_task_id=ids["data"], cache_executed_step=True,
        parameter_override={"Step/rows": "${pipeline.rows}", "Step/scale": 0.5, "Step/label": "x"},
    )  # fmt: skip
    pipe.add_step(
        "train", base_task_id=ids["train"], parents=["data"], cache_executed_step=True,
        parameter_override={"Step/data_url": "${data.artifacts.table.url}",
                            "Step/data_task": "${data.id}", "Step/epochs": 3},
    )  # fmt: skip
    pipe.add_step(
        "evaluate", base_task_name="evaluate",
        parameter_override={"Step/weights_url": "${train.artifacts.weights.url}",
                            "Step/epochs": "${train.parameters.Step/epochs}",
                            "Step/note": "after ${data.id}"},
    )  # fmt: skip
    return pipe


def test_three_steps_pass_typed_values_and_a_second_run_reuses_the_cached_step(
    client: ApiClient, queue: str, tmp_path: Path
) -> None:
    project = unique("pipe")
    ids = _base_tasks(client, project, tmp_path / "repo")

    first = _three_steps(project, ids, queue)
    assert set(first.get_pipeline_dag()["evaluate"].parents) == {"train", "data"}
    first.start()
    assert first.wait(timeout=120)
    controller = client.get_task(str(first.id))
    dag = _dag(client, str(first.id))
    assert first.is_successful(), (controller["status_reason"], dag)
    assert controller["type"] == "controller" and controller["status"] == "completed"
    assert controller["hyperparameters"]["Pipeline"]["rows"] == {
        "value": "4", "type": "int", "description": "rows to make"}  # fmt: skip
    assert [dag[s]["status"] for s in ("data", "train", "evaluate")] == ["completed"] * 3
    assert dag["train"]["parents"] == ["data"]

    data_id, train_id = dag["data"]["task_id"], dag["train"]["task_id"]
    assert _types(client, data_id) == {
        "step": "data",
        "rows": "int",
        "scale": "float",
        "label": "str",
    }
    assert _types(client, train_id) == {"step": "train", "data_url": "str", "data_task": "str",
                                        "epochs": "int"}  # fmt: skip
    assert _types(client, dag["evaluate"]["task_id"]) == {
        "step": "evaluate", "weights_url": "str", "epochs": "int", "note": "str"}  # fmt: skip
    train = client.get_task(train_id)
    data = client.get_task(data_id)
    assert (
        train["hyperparameters"]["Step"]["data_url"]["value"] == data["artifacts"]["table"]["uri"]
    )
    assert train["parent"] == first.id
    evaluate = client.get_task(dag["evaluate"]["task_id"])
    assert evaluate["hyperparameters"]["Step"]["note"]["value"] == f"after {data_id}"
    assert (
        evaluate["hyperparameters"]["Step"]["weights_url"]["value"]
        == train["artifacts"]["weights"]["uri"]
    )
    console = [x["text"] for x in client.get_console(train_id, limit=10000)["lines"]]
    assert "TABLE True 4" in console

    second = _three_steps(project, ids, queue)
    second.start()
    assert second.wait(timeout=120) and second.is_successful()
    again = _dag(client, str(second.id))
    assert again["data"]["status"] == "cached" and again["data"]["cached_from"] == data_id
    assert again["data"]["task_id"] == data_id
    # train's inputs (data's artifact and id) are the same again: cached too.
    assert again["train"]["status"] == "cached" and again["train"]["task_id"] == train_id
    # evaluate is not cached: it re-runs, its references resolved against the reused tasks.
    assert again["evaluate"]["status"] == "completed"
    rerun = client.get_task(again["evaluate"]["task_id"])
    assert rerun["id"] != evaluate["id"]
    assert rerun["hyperparameters"]["Step"] == evaluate["hyperparameters"]["Step"]
    names = [t["name"] for t in client.list_tasks(project=project, page_size=100)["items"]]
    assert names.count("data") == 2  # the base task and the first run's step: no new one
    assert names.count("evaluate") == 3


def make_table(
    rows: int, ratio: float, labels: list[str], options: dict[str, Any]
) -> dict[str, Any]:
    import json as _json

    kinds = {"rows": type(rows).__name__, "ratio": type(ratio).__name__,
             "labels": type(labels).__name__, "options": type(options).__name__}  # fmt: skip
    print("TYPES " + _json.dumps({"step": "make", **kinds}))
    return {"values": [ratio * i for i in range(rows)], "labels": labels}


def summarize(table: dict[str, Any], offset: int = 0) -> float:
    total = sum(table["values"]) + offset
    print("TOTAL", total, type(table).__name__)
    return total


def explode(total: float) -> None:
    raise ValueError(f"cannot use {total}")


def test_function_steps_run_under_the_agent_and_a_failing_step_fails_the_pipeline(
    client: ApiClient, queue: str
) -> None:
    project = unique("pipe-fn")
    pipe = PipelineController(name="functions", project=project, pool_period=0.2)
    pipe.add_parameter("rows", 3)
    pipe.set_default_execution_queue(queue)
    pipe.add_function_step(
        "make", make_table, function_return=["table"],
        function_kwargs={"rows": "${pipeline.rows}", "ratio": 0.5, "labels": ["a", "b"],
                         "options": {"k": 1}},
    )  # fmt: skip
    pipe.add_function_step(
        "summarize", summarize, function_return=["total"],
        function_kwargs={"table": "${make.table}", "offset": 10},
    )  # fmt: skip
    pipe.add_function_step("explode", explode, function_kwargs={"total": "${summarize.total}"})
    pipe.add_function_step("never", summarize, parents=["explode"], function_kwargs={"table": {}})
    pipe.start()
    assert pipe.wait(timeout=120)

    controller = client.get_task(str(pipe.id))
    dag = _dag(client, str(pipe.id))
    assert not pipe.is_successful()
    assert controller["status"] == "failed"
    assert "'explode'" in controller["status_reason"], controller["status_reason"]
    assert "ValueError: cannot use 11.5" in controller["status_reason"]
    assert [dag[s]["status"] for s in ("make", "summarize", "explode", "never")] == [
        "completed", "completed", "failed", "skipped"]  # fmt: skip
    assert _types(client, dag["make"]["task_id"]) == {
        "step": "make", "rows": "int", "ratio": "float", "labels": "list",
        "options": "dict"}  # fmt: skip
    summary = [
        x["text"] for x in client.get_console(dag["summarize"]["task_id"], limit=10000)["lines"]
    ]
    assert "TOTAL 11.5 dict" in summary
    made = client.get_task(dag["make"]["task_id"])
    assert made["execution"]["repository"] == "" and "def make_table" in made["execution"]["diff"]
    assert made["hyperparameters"]["kwargs"]["rows"]["type"] == "int"


def slow_step(seconds: int) -> None:
    import time as _time

    print("working", flush=True)
    _time.sleep(seconds)


def _working(client: ApiClient, task_id: str) -> bool:
    return "working" in [x["text"] for x in client.get_console(task_id)["lines"]]


def test_steps_run_side_by_side_a_time_limit_stops_one_and_the_cli_stops_the_pipeline(
    client: ApiClient, queue: str
) -> None:
    project = unique("pipe-stop")
    pipe = PipelineController(name="slow", project=project, pool_period=0.2)
    pipe.set_default_execution_queue(queue)
    pipe.add_function_step("slow", slow_step, function_kwargs={"seconds": 120})
    pipe.add_function_step(
        "capped", slow_step, function_kwargs={"seconds": 120}, time_limit=3,
        continue_on_fail=True,
    )  # fmt: skip
    pipe.add_function_step("after", slow_step, parents=["slow"], function_kwargs={"seconds": 0})
    pipe.start()
    dag = pipe.get_pipeline_dag()
    step_id = wait_for(lambda: dag["slow"].task_id, 30, "the step's task")
    capped_id = wait_for(lambda: dag["capped"].task_id, 30, "the capped step's task")
    # Two agents: both steps run at once, until the time limit stops the capped one.
    wait_for(lambda: _working(client, step_id) and _working(client, capped_id), 60,
             "both steps to run", interval=0.2)  # fmt: skip
    assert client.get_task(capped_id)["status"] == "running"
    capped = final_status(client, capped_id, timeout=30)
    assert capped["status"] == "stopped" and "time limit of 3 s" in capped["status_reason"]
    assert pipe.is_running() and client.get_task(step_id)["status"] == "running"

    runner = CliRunner()
    listed = runner.invoke(cli, ["pipeline", "list", "--project", project])
    assert listed.exit_code == 0 and str(pipe.id) in listed.output, listed.output
    stopped = runner.invoke(cli, ["pipeline", "stop", str(pipe.id)])
    assert stopped.exit_code == 0, stopped.output
    assert "1 step(s) asked to stop" in stopped.output
    assert pipe.wait(timeout=30) and not pipe.is_successful()
    assert final_status(client, step_id, timeout=30)["status"] == "stopped"
    controller = client.get_task(str(pipe.id))
    assert controller["status"] == "stopped"
    shown = runner.invoke(cli, ["pipeline", "show", str(pipe.id)])
    assert shown.exit_code == 0, shown.output
    rows = {line.split()[0]: line.split()[1] for line in shown.output.splitlines()[1:]}
    assert rows["slow"] == "stopped" and rows["after"] == "skipped", shown.output
    assert rows["capped"] == "stopped" and "time limit" in shown.output
    not_a_pipeline = runner.invoke(cli, ["pipeline", "show", step_id])
    assert not_a_pipeline.exit_code != 0 and "is not a pipeline run" in not_a_pipeline.output


CONTROLLER = """
from tunelab import Task
from tunelab.pipelines import PipelineController, PipelineDecorator

task = Task.init(project_name=PROJECT, task_name="nightly")


def double(x):
    print("DOUBLE", type(x).__name__, x)
    return x * 2


pipe = PipelineController(name="nightly", project=PROJECT, pool_period=0.2)
pipe.add_parameter("x", 3)
pipe.set_default_execution_queue(QUEUE)
pipe.add_function_step("double", double, function_kwargs={"x": "${pipeline.x}"},
                       function_return=["y"])
pipe.start(queue=QUEUE)
pipe.wait()
print("PIPELINE OK" if pipe.is_successful() else "PIPELINE FAILED")
"""


def test_an_enqueued_controller_runs_under_an_agent_and_its_clone_reruns_with_edits(
    api_url: str, client: ApiClient, queue: str, tmp_path: Path
) -> None:
    project = unique("pipe-q")
    repo = new_repo(
        tmp_path / "repo", {"nightly.py": f"PROJECT = {project!r}\nQUEUE = {queue!r}\n{CONTROLLER}"}
    )
    local = run_script(repo / "nightly.py", script_env(api_url, tmp_path))
    assert local.returncode == 0, local.stderr
    controller_id = client.list_tasks(project=project, type=["controller"])["items"][0]["id"]
    first = final_status(client, controller_id, timeout=60)
    dag = _dag(client, controller_id)
    assert first["status"] == "completed", (first["status_reason"], dag)
    assert first["hyperparameters"]["Pipeline"]["x"]["type"] == "int"
    step = dag["double"]["task_id"]
    assert "DOUBLE int 3" in [x["text"] for x in client.get_console(step, limit=10000)["lines"]]

    rerun = client.clone_task(controller_id)
    client.set_hyperparameters(
        rerun["id"], {"Pipeline": {"x": {"value": "5", "type": "int", "description": ""}}}
    )
    client.enqueue_task(rerun["id"], queue=queue)
    second = final_status(client, rerun["id"], timeout=60)
    again = _dag(client, rerun["id"])
    assert second["status"] == "completed", (second["status_reason"], again)
    assert again["double"]["task_id"] != step
    lines = [
        x["text"] for x in client.get_console(again["double"]["task_id"], limit=10000)["lines"]
    ]
    assert "DOUBLE int 5" in lines


@PipelineDecorator.component(return_values=["rows"])
def load_rows(n: int) -> list[int]:
    print("LOAD", type(n).__name__)
    return list(range(n))


@PipelineDecorator.component(return_values=["total", "count"])
def row_stats(rows: list[int], scale: float = 1.0) -> tuple[float, int]:
    print("STATS", type(rows).__name__, type(scale).__name__)
    return sum(rows) * scale, len(rows)


def test_the_decorator_form_runs_components_as_steps_and_waits_for_results(
    client: ApiClient, queue: str
) -> None:
    project = unique("pipe-deco")

    @PipelineDecorator.pipeline(name="numbers", project=project, version="2", pool_period=0.2)
    def numbers(n: int = 4) -> float:
        total, count = row_stats(load_rows(n), scale=0.5)
        return total * 10 + count  # waits for row_stats and reads both artifacts

    assert row_stats([1, 2], scale=2.0) == (6.0, 2)  # outside a pipeline: a plain call
    PipelineDecorator.set_default_execution_queue(queue)
    try:
        assert numbers(n=5) == 55.0  # (0+1+2+3+4) * 0.5 * 10 + 5
    finally:
        PipelineDecorator.set_default_execution_queue(None)
    controller = client.list_tasks(project=project, type=["controller"])["items"][0]
    assert client.get_task(controller["id"])["status"] == "completed"
    dag = _dag(client, controller["id"])
    assert dag["row_stats"]["parents"] == ["load_rows"]
    assert [dag[s]["status"] for s in ("load_rows", "row_stats")] == ["completed"] * 2
    stats = [x["text"] for x in client.get_console(dag["row_stats"]["task_id"])["lines"]]
    assert "STATS list float" in stats
    made = client.get_task(dag["row_stats"]["task_id"])
    assert "PipelineDecorator" not in made["execution"]["diff"]
