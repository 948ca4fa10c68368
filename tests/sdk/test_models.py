"""Models through the SDK against a real server: registered by OutputModel or by a plain
joblib.dump / torch.save, found again by id, name, project or tag, and swapped for another
by an edited draft."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import joblib
import pytest

from tests.scripts import run_script, script_env, unique, write_script
from tunelab import InputModel
from tunelab.errors import Conflict
from tunelab.sdk.transport import ApiClient

TRAIN = """
import json, sys
from tunelab import OutputModel, Task

task = Task.init(project_name=sys.argv[1], task_name="train")
with open("weights.bin", "wb") as f:
    f.write(b"w" * 5000)
model = OutputModel(task, name="resnet", framework="PyTorch", config_dict={"depth": 50},
                    label_enumeration={"cat": 0, "dog": 1}, tags=["best"])
uri = model.update_weights("weights.bin")
model.publish()
print("RESULT " + json.dumps({"task": task.id, "model": model.id, "uri": uri}))
"""


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def _result(api_url: str, folder: Path, body: str, *args: str, **env: str) -> dict[str, str]:
    script = write_script(folder, body)
    result = run_script(script, script_env(api_url, folder / "home", **env), *args, timeout=120)
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))
    found: dict[str, str] = json.loads(line.removeprefix("RESULT "))
    return found


def test_an_output_model_is_uploaded_registered_and_published(
    api_url: str, client: ApiClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = unique("models")
    seen = _result(api_url, tmp_path / "code", TRAIN, project)
    record = client.get_model(seen["model"])
    assert record["uri"] == seen["uri"] and record["uri"].startswith("tunelab://")
    assert record["size"] == 5000
    assert record["sha256"] == hashlib.sha256(b"w" * 5000).hexdigest()
    assert record["published"] and record["task_id"] == seen["task"]
    assert record["project"]["name"] == project and record["framework"] == "PyTorch"
    task = client.get_task(seen["task"])
    assert [m["id"] for m in task["output_models"]] == [seen["model"]]

    monkeypatch.setenv("HOME", str(tmp_path / "reader"))
    model = InputModel(model_id=seen["model"])
    assert model.config_dict == {"depth": 50}
    assert model.labels == {"cat": 0, "dog": 1}
    assert model.get_local_copy().read_bytes() == b"w" * 5000


def test_query_models_by_project_name_tags_and_published(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("query")
    published = _result(api_url, tmp_path / "code", TRAIN, project)["model"]
    draft = client.create_model({"name": "resnet", "project": project, "tags": ["best"]})
    other = client.create_model({"name": "vgg", "project": project})

    by_name = InputModel.query_models(project_name=project, model_name="resnet")
    assert [m.id for m in by_name] == [draft["id"], published]  # newest first
    assert [m.id for m in InputModel.query_models(project_name=project, tags=["best"])] == [
        draft["id"],
        published,
    ]
    only = InputModel.query_models(project_name=project, only_published=True)
    assert [m.id for m in only] == [published]
    everything = {m.id for m in InputModel.query_models(project_name=project)}
    assert everything == {published, draft["id"], other["id"]}
    assert InputModel(name="resnet", project=project, only_published=True).id == published


CONNECT = """
import json, sys
from tunelab import InputModel, Task

task = Task.init(project_name=sys.argv[1], task_name="finetune")
start = task.connect(InputModel(model_id=sys.argv[2]))
print("RESULT " + json.dumps({"task": task.id, "model": start.id,
                              "weights": open(start.get_local_copy(), "rb").read().decode()}))
"""


def test_connect_records_the_input_model_and_an_edited_draft_swaps_it(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("connect")
    weights_a, weights_b = tmp_path / "a.bin", tmp_path / "b.bin"
    weights_a.write_bytes(b"model A")
    weights_b.write_bytes(b"model B")
    a = client.create_model({"name": "a", "project": project, "uri": weights_a.as_uri()})
    b = client.create_model({"name": "b", "project": project, "uri": weights_b.as_uri()})

    local = _result(api_url, tmp_path / "local", CONNECT, project, a["id"])
    assert local == {"task": local["task"], "model": a["id"], "weights": "model A"}
    assert client.get_task(local["task"])["input_model"]["id"] == a["id"]

    draft = client.clone_task(local["task"])
    assert draft["input_model"]["id"] == a["id"]  # a clone starts from the same model
    client.set_input_model(draft["id"], b["id"])  # edited on the draft
    remote = _result(
        api_url, tmp_path / "remote", CONNECT, project, a["id"], TUNELAB_TASK_ID=draft["id"]
    )
    assert remote == {"task": draft["id"], "model": b["id"], "weights": "model B"}
    assert client.get_task(draft["id"])["input_model"]["id"] == b["id"]
    with pytest.raises(Conflict):
        client.delete_model(b["id"])  # the task uses it


JOBLIB = """
import json, sys
import joblib
from tunelab import Task

task = Task.init(project_name=sys.argv[1], task_name="fit", output_uri=sys.argv[2] or None)
joblib.dump({"coef": [1.0, 2.0]}, "model.pkl")
joblib.dump({"coef": [3.0, 4.0]}, "model.pkl")      # saved again: the same model
print("RESULT " + json.dumps({"task": task.id}))
"""


@pytest.mark.parametrize("destination", [False, True])
def test_joblib_dump_inside_a_task_registers_an_output_model(
    destination: bool, api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    share = tmp_path / "share"
    output_uri = share.as_uri() if destination else ""
    seen = _result(api_url, tmp_path / "code", JOBLIB, unique("joblib"), output_uri)
    (model,) = client.get_task(seen["task"])["output_models"]
    record = client.get_model(model["id"])
    assert record["name"] == "model.pkl" and record["framework"] == "ScikitLearn"
    if destination:
        assert record["uri"].startswith(share.as_uri())  # uploaded to the destination
    else:
        assert record["uri"] == (tmp_path / "code" / "model.pkl").as_uri()  # where it was saved
    path = InputModel(model_id=record["id"]).get_local_copy()
    assert joblib.load(path) == {"coef": [3.0, 4.0]}
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


TORCH = """
import json, sys
import torch
from tunelab import Task

task = Task.init(project_name=sys.argv[1], task_name="net")
net = torch.nn.Linear(3, 2)
torch.save(net.state_dict(), "net.pt")
print("RESULT " + json.dumps({"task": task.id}))
"""


def test_torch_save_inside_a_task_registers_an_output_model(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    import torch

    seen = _result(api_url, tmp_path / "code", TORCH, unique("torch"))
    (model,) = client.get_task(seen["task"])["output_models"]
    record = client.get_model(model["id"])
    assert record["name"] == "net.pt" and record["framework"] == "PyTorch"
    state = torch.load(InputModel(model_id=record["id"]).get_local_copy())
    assert state["weight"].shape == (2, 3)


DESIGN = """
import json, sys
from tunelab import OutputModel, Task
from tunelab.errors import Conflict

task = Task.init(project_name=sys.argv[1], task_name="design")
model = OutputModel(task, name="net", config_text="depth: 18")
model.update_design(config_dict={"depth": 50, "width": 2})
model.update_labels({"cat": 0, "dog": 1, "bird": 7})
model.publish()
try:
    model.update_labels({"cat": 1})
    refused = ""
except Conflict as exc:
    refused = str(exc)
print("RESULT " + json.dumps({"model": model.id, "refused": refused}))
"""


def test_update_design_and_labels_are_read_back_and_refused_once_published(
    api_url: str, client: ApiClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = unique("design")
    seen = _result(api_url, tmp_path / "code", DESIGN, project)
    assert "is published" in seen["refused"]
    monkeypatch.setenv("HOME", str(tmp_path / "reader"))
    model = InputModel(model_id=seen["model"])
    assert model.config_dict == {"depth": 50, "width": 2}
    assert json.loads(model.config_text) == {"depth": 50, "width": 2}
    assert model.labels == {"cat": 0, "dog": 1, "bird": 7}
    with pytest.raises(Conflict, match="is published"):
        client.update_model(seen["model"], config_text="depth: 1")
