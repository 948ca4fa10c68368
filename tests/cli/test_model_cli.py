"""``tunelab model`` and the task's artifact and input-model commands against the real
server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_task_lifecycle_cli import failed, succeeded, tunelab
from tests.scripts import unique
from tunelab.sdk.transport import ApiClient


def test_list_filter_edit_publish_and_delete_a_model(
    env: dict[str, str], client: ApiClient, tmp_path: Path
) -> None:
    project = unique("cli-models")
    net = client.create_model({"name": "net", "project": project, "framework": "PyTorch"})
    client.create_model({"name": "forest", "project": project, "framework": "scikit-learn"})

    listed = tunelab(env, "model", "list", "--project", project, "--framework", "PyTorch")
    assert listed.returncode == 0, listed.stderr
    assert net["id"] in listed.stdout and "forest" not in listed.stdout
    assert "1 of 1 models" in listed.stdout

    (tmp_path / "net.yaml").write_text("depth: 50\n")
    edit = ("model", "edit", net["id"], "--config-file", str(tmp_path / "net.yaml"))
    assert "config_text, labels" in succeeded(tunelab(env, *edit, "--label", "cat=0"))
    shown = tunelab(env, "model", "show", net["id"])
    assert "depth: 50" in shown.stdout and "cat=0" in shown.stdout

    failed(tunelab(env, "model", "edit", net["id"], "--label", "cat"), "expected NAME=INT")
    assert succeeded(tunelab(env, "model", "publish", net["id"])).startswith("published")
    failed(tunelab(env, "model", "edit", net["id"], "--clear-config"), "published")
    published = tunelab(env, "model", "list", "--project", project, "--published", "--json")
    assert [m["id"] for m in json.loads(published.stdout)["items"]] == [net["id"]]

    assert succeeded(tunelab(env, "model", "delete", net["id"])) == f"deleted model {net['id']}"
    failed(tunelab(env, "model", "show", net["id"]), "no model")


def test_set_and_remove_a_drafts_input_model(env: dict[str, str], client: ApiClient) -> None:
    project = unique("cli-input")
    model = client.create_model({"name": "start", "project": project})
    draft = client.create_task({"name": "d", "project": project, "status": "draft"})

    out = succeeded(tunelab(env, "task", "set-input-model", draft["id"], model["id"]))
    assert out == f"{draft['id']} starts from model {model['id']}"
    artifacts = tunelab(env, "task", "artifacts", draft["id"])
    assert f"input model:  {model['id']}  start" in artifacts.stdout
    failed(tunelab(env, "model", "delete", model["id"]), "input model")

    succeeded(tunelab(env, "task", "set-input-model", draft["id"], "--remove"))
    assert client.get_task(draft["id"])["input_model"] is None
    failed(tunelab(env, "task", "set-input-model", draft["id"]), "MODEL_ID")

    running = client.create_task({"name": "r", "project": project, "status": "running"})
    failed(tunelab(env, "task", "set-input-model", running["id"], model["id"]), "running")
