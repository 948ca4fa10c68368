"""``POST /tasks/batch``: many tasks with their parameters, scalars and final status in one
request, all or nothing, for accounts that may create in every project the batch names."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.accounts import login_server
from tests.server.answers import ok
from tunelab.domain.access import UserKind

ACCOUNTS = {
    "root": UserKind.ADMIN,
    "olga": UserKind.MEMBER,  # owns "lab"
    "val": UserKind.MEMBER,  # a viewer of "lab"
    "vic": UserKind.MEMBER,  # nothing of "lab"
}
MAX_POINTS = 1_000


@pytest.fixture(scope="module")
def clients(
    tmp_path_factory: pytest.TempPathFactory, server_database: str | None
) -> Iterator[dict[str, httpx.Client]]:
    data_dir: Path = tmp_path_factory.mktemp("task-batches")
    env = {"TUNELAB_MAX_BATCH_POINTS": str(MAX_POINTS)}
    with login_server(data_dir, ACCOUNTS, database_url=server_database, env=env) as (_, opened):
        lab = ok(opened["olga"].post("/projects", json={"name": "lab"}), 201)
        ok(opened["olga"].put(f"/projects/{lab['id']}/members/val", json={"role": "viewer"}))
        yield opened


def trial(project: str, lr: float, **extra: Any) -> dict[str, Any]:
    its = list(range(5))
    return {
        "name": f"trial lr={lr}",
        "project": project,
        "status": "completed",
        "hyperparameters": {
            "Args": {
                "lr": {"value": lr},
                "epochs": {"value": 5},
                "amp": {"value": True},
                "opt": {"value": "sgd"},
                "seed": {"value": 7, "type": "str"},
            }
        },
        "scalars": [
            {
                "metric": "loss",
                "variant": "val",
                "iterations": its,
                "values": [lr * (5 - i) for i in its],
                "timestamps": [1.7e9 + i for i in its],
            }
        ],
        **extra,
    }


def tasks_in(client: httpx.Client, project: str) -> list[dict[str, Any]]:
    """The project's tasks; none where the project was never made."""
    answer = client.get("/tasks", params={"project": project})
    if answer.status_code == 404 and answer.json()["error"]["code"] == "not_found":
        return []
    items: list[dict[str, Any]] = ok(answer)["items"]
    return items


def test_a_batch_stores_each_task_once_with_typed_parameters(
    clients: dict[str, httpx.Client],
) -> None:
    olga = clients["olga"]
    project = f"lab/sweep-{uuid.uuid4().hex[:6]}"
    body = {"tasks": [trial(project, lr) for lr in (0.1, 0.01, 0.001)]}
    answer = ok(olga.post("/tasks/batch", json=body), 201)
    assert answer["stored"] == 15
    assert [t["name"] for t in answer["tasks"]] == [
        "trial lr=0.1",
        "trial lr=0.01",
        "trial lr=0.001",
    ]
    assert {t["id"] for t in answer["tasks"]} == {t["id"] for t in tasks_in(olga, project)}

    first = ok(olga.get(f"/tasks/{answer['tasks'][0]['id']}"))
    assert first["status"] == "completed" and first["completed"] is not None
    assert first["user"] == "olga"
    assert first["hyperparameters"]["Args"] == {
        "lr": {"value": "0.1", "type": "float", "description": ""},
        "epochs": {"value": "5", "type": "int", "description": ""},
        "amp": {"value": "True", "type": "bool", "description": ""},
        "opt": {"value": "sgd", "type": "str", "description": ""},
        "seed": {"value": "7", "type": "str", "description": ""},
    }
    series = ok(olga.get(f"/tasks/{first['id']}/scalars", params={"max_points": 0}))
    assert series["metrics"]["loss"]["val"]["x"] == [0, 1, 2, 3, 4]
    assert series["metrics"]["loss"]["val"]["total"] == 5
    summary = ok(olga.get(f"/tasks/{first['id']}/metrics"))["metrics"]["loss"]["val"]
    assert (summary["count"], summary["min"], summary["last"]) == (5, 0.1, 0.1)


def test_a_new_top_level_project_is_the_callers(clients: dict[str, httpx.Client]) -> None:
    vic = clients["vic"]
    project = f"vic-{uuid.uuid4().hex[:6]}"
    made = ok(vic.post("/tasks/batch", json={"tasks": [trial(f"{project}/a", 0.1)]}), 201)
    # The owner of the new project may change its tasks; nobody else may read them.
    task_id = made["tasks"][0]["id"]
    ok(vic.patch(f"/tasks/{task_id}", json={"comment": "mine"}))
    assert clients["olga"].get(f"/tasks/{task_id}").status_code == 403


@pytest.mark.parametrize("who", ["val", "vic"])
def test_a_batch_naming_a_project_the_caller_may_not_write_is_refused_whole(
    clients: dict[str, httpx.Client], who: str
) -> None:
    client = clients[who]
    own = f"{who}-{uuid.uuid4().hex[:6]}"
    target = f"lab/{uuid.uuid4().hex[:6]}"
    body = {"tasks": [trial(own, 0.1), trial(target, 0.2)]}
    refused = client.post("/tasks/batch", json=body)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "forbidden"
    assert tasks_in(clients["root"], target) == []
    assert tasks_in(clients["root"], own) == []


@pytest.mark.parametrize(
    ("tasks", "status", "names"),
    [
        ([], 400, None),
        ([{"name": "x", "project": "lab", "unknown": 1}], 400, None),
        ([{"name": "x", "project": "lab", "status": "queued"}], 400, "tasks[0]"),
        ([{"name": "x", "project": "lab", "status": "nonsense"}], 400, None),
        ([{"name": "x", "project": "lab", "parent": "no-such-task"}], 404, None),
        (
            [
                {"name": "fine", "project": "lab"},
                {
                    "name": "lengths differ",
                    "project": "lab",
                    "scalars": [
                        {
                            "metric": "m",
                            "variant": "v",
                            "iterations": [1, 2],
                            "values": [1.0],
                            "timestamps": [1.7e9],
                        }
                    ],
                },
            ],
            400,
            "tasks[1]",
        ),
        ([trial("lab", 0.1)] * 201, 413, None),  # 1,005 points over the limit of 1,000
    ],
)
def test_bad_input_is_a_4xx_and_stores_nothing(
    clients: dict[str, httpx.Client], tasks: list[dict[str, Any]], status: int, names: str | None
) -> None:
    olga = clients["olga"]
    project = f"lab/bad-{uuid.uuid4().hex[:6]}"
    for task in tasks:
        task["project"] = project
    answer = olga.post("/tasks/batch", json={"tasks": tasks})
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    if names:
        assert error["message"].startswith(names)
    assert tasks_in(olga, project) == []


def test_at_most_a_thousand_tasks(clients: dict[str, httpx.Client]) -> None:
    body = {"tasks": [{"name": "x", "project": "lab"}] * 1_001}
    assert clients["olga"].post("/tasks/batch", json=body).status_code == 400
