"""The experiment page's own tabs and edit routes, over plain HTTP: what they show, what a save
stores, what the rules refuse (with the API's own message)."""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path
from typing import Any

import httpx

from tests.web.seed import create_task, project_name

HX = {"HX-Request": "true"}


def _draft(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    return create_task(
        http,
        project_name("exp"),
        "tunable",
        hyperparameters={"Args": {"lr": 0.1, "epochs": 3, "amp": True, "arch": "resnet"}},
        execution={
            "repository": "https://example.com/team/repo.git",
            "branch": "main",
            "entry_point": "train.py",
            "requirements": "numpy==1.26\ntorch==2.2\n",
            "original_requirements": "numpy==1.25\n",
            "diff": "--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-lr = 1\n+lr = 2\n",
        },
        configuration={"model": {"text": '{"layers": 3}', "type": "dictionary"}},
        user_properties={"owner": {"value": "ana"}},
        **fields,
    )


def _api(http: httpx.Client, task_id: str) -> dict[str, Any]:
    answer = http.get(f"/api/v1/tasks/{task_id}")
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _enabled_controls(html: str) -> list[str]:
    """Buttons, inputs, selects and textareas in the tab body that are not disabled."""
    body = html.split('id="tab-body"', 1)[1]
    controls = re.findall(r"<(?:button|input|select|textarea)\b[^>]*>", body)
    return [c for c in controls if " disabled" not in c and 'type="hidden"' not in c]


def test_each_tab_shows_what_the_task_records(http: httpx.Client) -> None:
    task = _draft(http, comment="first try", tags=["baseline"])
    tid = task["id"]
    execution = http.get(f"/experiments/{tid}/execution")
    assert execution.status_code == 200
    assert "https://example.com/team/repo.git" in execution.text
    assert "torch==2.2" in execution.text
    assert 'class="diff-add">+lr = 2' in execution.text
    config = http.get(f"/experiments/{tid}/configuration").text
    assert 'data-section="Args"' in config and "resnet" in config
    assert "{&#34;layers&#34;: 3}" in config and "ana" in config
    info = http.get(f"/experiments/{tid}/info").text
    assert tid in info and "first try" in info and "baseline" in info
    artifacts = http.get(f"/experiments/{tid}/artifacts").text
    assert "No input model" in artifacts and "No artifacts." in artifacts
    assert http.get(f"/experiments/{tid}/console").status_code == 200


def test_a_fragment_url_is_also_a_page(http: httpx.Client) -> None:
    tid = _draft(http)["id"]
    whole = http.get(f"/experiments/{tid}/hyperparameters/Args?edit=1")
    assert whole.status_code == 200
    assert "<html" in whole.text and 'hx-post="/experiments/' in whole.text
    part = http.get(f"/experiments/{tid}/hyperparameters/Args?edit=1", headers=HX)
    assert "<html" not in part.text
    assert 'type="number" step="1" name="p-2-value" value="3"' in part.text  # epochs: int
    assert 'type="number" step="any" name="p-3-value" value="0.1"' in part.text  # lr: float
    assert 'class="toggle" role="switch" name="p-0-value" value="true" checked' in part.text


def test_execution_sections_save_clear_and_reset(http: httpx.Client) -> None:
    tid = _draft(http)["id"]
    base = f"/experiments/{tid}/execution"
    saved = http.post(
        f"{base}/source",
        data={
            "op": "save",
            "repository": "https://example.com/fork.git",
            "branch": "dev",
            "commit": "abc123",
            "entry_point": "main.py",
            "working_dir": "src",
            "binary": "python3.11",
        },
        headers=HX,
    )
    assert saved.status_code == 200, saved.text
    assert "Saved the source code" in saved.headers["HX-Trigger"]
    assert "https://example.com/fork.git" in saved.text and "<html" not in saved.text
    assert http.post(f"{base}/requirements", data={"op": "reset"}).status_code == 200
    assert _api(http, tid)["execution"]["requirements"] == "numpy==1.25\n"
    # A textarea posts CRLF; the stored text has plain newlines.
    http.post(f"{base}/requirements", data={"op": "save", "requirements": "a==1\r\nb==2\r\n"})
    assert _api(http, tid)["execution"]["requirements"] == "a==1\nb==2\n"
    assert http.post(f"{base}/requirements", data={"op": "clear"}).status_code == 200
    assert http.post(f"{base}/diff", data={"op": "clear"}).status_code == 200
    http.post(
        f"{base}/docker",
        data={"docker_image": "python:3.11", "docker_arguments": "--gpus all"},
    )
    http.post(f"{base}/output", data={"output_uri": "s3://bucket/runs"})
    execution = _api(http, tid)["execution"]
    assert execution["repository"] == "https://example.com/fork.git"
    assert execution["working_dir"] == "src" and execution["binary"] == "python3.11"
    assert execution["requirements"] == "" and execution["diff"] == ""
    assert execution["docker_image"] == "python:3.11"
    assert execution["output_uri"] == "s3://bucket/runs"
    bad = http.post(f"{base}/output", data={"output_uri": "ftp://nowhere"}, headers=HX)
    assert bad.status_code == 400
    assert bad.headers["HX-Retarget"] == "#toasts"
    assert http.post(f"{base}/source", data={"op": "clear"}).status_code == 400


def test_a_hyperparameter_section_keeps_each_type(http: httpx.Client) -> None:
    tid = _draft(http)["id"]
    url = f"/experiments/{tid}/hyperparameters/Args"
    rows = {
        "p-0-name": "amp",
        "p-0-type": "bool",
        "p-0-value": ["false", "true"],  # the hidden false, then the checked toggle
        "p-1-name": "epochs",
        "p-1-type": "int",
        "p-1-value": "12",
        "p-2-name": "lr",
        "p-2-type": "float",
        "p-2-value": "1e-3",
        # arch is not posted: deleted in the form
        "p-7-name": "seed",
        "p-7-type": "int",
        "p-7-value": "42",
    }
    answer = http.post(url, data=rows, headers=HX)
    assert answer.status_code == 200, answer.text
    args = _api(http, tid)["hyperparameters"]["Args"]
    assert args == {
        # Unchanged in meaning, so unchanged in text (the seed wrote "true").
        "amp": {"value": "true", "type": "bool", "description": ""},
        "epochs": {"value": "12", "type": "int", "description": ""},
        "lr": {"value": "1e-3", "type": "float", "description": ""},
        "seed": {"value": "42", "type": "int", "description": ""},
    }
    # Unchecked: only the hidden "false" arrives; a new value is written as the SDK writes it.
    http.post(url, data={**rows, "p-0-value": "false"})
    assert _api(http, tid)["hyperparameters"]["Args"]["amp"]["value"] == "False"


def test_a_number_that_is_not_one_is_refused_with_a_sentence(http: httpx.Client) -> None:
    tid = _draft(http)["id"]
    url = f"/experiments/{tid}/hyperparameters/Args"
    cases = [
        ("int", "2.5", "Args/epochs must be a whole number (int), got '2.5'"),
        ("float", "fast", "Args/epochs must be a number (float), got 'fast'"),
        ("bool", "maybe", "Args/epochs must be true or false (bool), got 'maybe'"),
    ]
    for type_name, value, message in cases:
        row = {"p-0-name": "epochs", "p-0-type": type_name, "p-0-value": value}
        refused = http.post(url, data=row, headers=HX)
        assert refused.status_code == 400
        assert message in html.unescape(refused.text)
    duplicate = {"p-0-name": "a", "p-0-value": "1", "p-1-name": "a", "p-1-value": "2"}
    assert http.post(url, data=duplicate).status_code == 400
    assert _api(http, tid)["hyperparameters"]["Args"]["epochs"]["value"] == "3"


def test_sections_and_user_properties_are_added_and_emptied(http: httpx.Client) -> None:
    tid = _draft(http)["id"]
    added = http.post(
        f"/experiments/{tid}/hyperparameters",
        data={"section": "Data", "p-0-name": "batch", "p-0-type": "int", "p-0-value": "64"},
        headers=HX,
    )
    assert added.status_code == 200, added.text
    assert 'data-section="Data"' in added.text
    again = http.post(
        f"/experiments/{tid}/hyperparameters",
        data={"section": "Data", "p-0-name": "x", "p-0-value": "1"},
    )
    assert again.status_code == 400
    # Saving a section with no rows left deletes it.
    assert http.post(f"/experiments/{tid}/hyperparameters/Data", data={}).status_code == 200
    assert "Data" not in _api(http, tid)["hyperparameters"]
    props = http.post(
        f"/experiments/{tid}/user-properties",
        data={"p-0-name": "owner", "p-0-value": "bo", "p-1-name": "note", "p-1-value": "ok"},
    )
    assert props.status_code == 200
    assert {k: v["value"] for k, v in _api(http, tid)["user_properties"].items()} == {
        "owner": "bo",
        "note": "ok",
    }


def test_configuration_objects_are_edited_cleared_added_and_deleted(http: httpx.Client) -> None:
    tid = _draft(http)["id"]
    base = f"/experiments/{tid}/configuration-objects"
    edit = http.post(f"{base}/model", data={"op": "save", "text": "layers: 4\r\n"}, headers=HX)
    assert edit.status_code == 200 and "layers: 4" in edit.text
    assert _api(http, tid)["configuration"]["model"]["text"] == "layers: 4\n"
    http.post(f"{base}/model", data={"op": "clear"})
    assert _api(http, tid)["configuration"]["model"]["text"] == ""
    added = http.post(base, data={"name": "data/aug.yaml", "type": "yaml", "text": "flip: true"})
    assert added.status_code == 200
    assert _api(http, tid)["configuration"]["data/aug.yaml"]["type"] == "yaml"
    assert http.get(f"{base}/data/aug.yaml?edit=1", headers=HX).status_code == 200
    deleted = http.post(f"{base}/data/aug.yaml", data={"op": "delete"}, headers=HX)
    assert deleted.status_code == 200 and deleted.text == ""
    assert "data/aug.yaml" not in _api(http, tid)["configuration"]
    assert http.post(f"{base}/nothing", data={"op": "clear"}).status_code == 400


def test_inputs_of_a_task_that_is_not_a_draft_are_refused_as_the_api_refuses_them(
    http: httpx.Client,
) -> None:
    tid = _draft(http, status="completed")["id"]
    api = http.patch(
        f"/api/v1/tasks/{tid}/hyperparameters", json={"Args": {"lr": {"value": "0.2"}}}
    )
    assert api.status_code == 409
    message = api.json()["error"]["message"]
    attempts = [
        (f"/experiments/{tid}/hyperparameters/Args", {"p-0-name": "lr", "p-0-value": "0.2"}),
        (f"/experiments/{tid}/hyperparameters", {"section": "New", "p-0-name": "a"}),
        (f"/experiments/{tid}/execution/source", {"repository": "https://x/y.git"}),
        (f"/experiments/{tid}/execution/requirements", {"op": "clear"}),
        (f"/experiments/{tid}/configuration-objects/model", {"op": "delete"}),
        (f"/experiments/{tid}/configuration-objects", {"name": "extra", "text": "x"}),
        (f"/experiments/{tid}/input-model", {"model_id": ""}),
    ]
    for url, data in attempts:
        refused = http.post(url, data=data, headers=HX)
        assert refused.status_code == 409, url
        assert refused.headers["HX-Retarget"] == "#toasts"
        assert message in html.unescape(refused.text), url
    # User properties stay editable after a run, until it is published.
    props = http.post(
        f"/experiments/{tid}/user-properties", data={"p-0-name": "k", "p-0-value": "v"}
    )
    assert props.status_code == 200


def test_a_published_task_renders_no_enabled_edit_control(http: httpx.Client) -> None:
    tid = _draft(http, status="completed")["id"]
    assert http.post(f"/api/v1/tasks/{tid}/publish").status_code == 200
    for tab in ("execution", "configuration", "artifacts", "info"):
        page = http.get(f"/experiments/{tid}/{tab}")
        assert page.status_code == 200
        assert _enabled_controls(page.text) == [], tab
    config = http.get(f"/experiments/{tid}/configuration").text
    assert "cannot edit the user properties of a published task" in config
    assert "cannot edit the inputs of a published task" in config
    refused = http.post(
        f"/experiments/{tid}/user-properties", data={"p-0-name": "k", "p-0-value": "v"}
    )
    assert refused.status_code == 409
    # Asking for a form anyway shows the section read-only.
    form = http.get(f"/experiments/{tid}/user-properties?edit=1", headers=HX).text
    assert "<form" not in form


def test_the_input_model_is_chosen_from_any_project_and_removed(http: httpx.Client) -> None:
    tid = _draft(http)["id"]
    other = project_name("models")
    made = http.post(
        "/api/v1/models", json={"name": "resnet-base", "project": other, "framework": "PyTorch"}
    )
    assert made.status_code == 201, made.text
    model = made.json()
    here = http.get(f"/experiments/{tid}/input-model/select", params={"q": "resnet-base"})
    assert model["id"] not in here.text  # another project's
    everywhere = http.get(
        f"/experiments/{tid}/input-model/select",
        params={"q": "resnet-base", "scope": "all", "list": "1"},
        headers=HX,
    )
    assert model["id"] in everywhere.text and 'id="modal-title"' not in everywhere.text
    chosen = http.post(
        f"/experiments/{tid}/input-model", data={"model_id": model["id"]}, headers=HX
    )
    assert chosen.status_code == 200
    assert "close-modal" in chosen.headers["HX-Trigger"]
    assert f'href="/models/{model["id"]}"' in chosen.text
    assert _api(http, tid)["input_model"]["id"] == model["id"]
    page = http.get(f"/models/{model['id']}")
    assert page.status_code == 200 and "PyTorch" in page.text and other in page.text
    http.post(f"/experiments/{tid}/input-model", data={"model_id": ""})
    assert _api(http, tid)["input_model"] is None


def test_artifacts_download_from_the_file_store_or_through_the_page(
    http: httpx.Client, tmp_path: Path
) -> None:
    tid = _draft(http)["id"]
    local = tmp_path / "table.csv"
    local.write_bytes(b"a,b\n1,2\n" * 1000)
    digest = hashlib.sha256(local.read_bytes()).hexdigest()
    for name, uri in (("table", local.as_uri()), ("weights", "tunelab://runs/x/weights.bin")):
        put = http.put(
            f"/api/v1/tasks/{tid}/artifacts/{name}",
            json={
                "type": "file",
                "format": "csv",
                "uri": uri,
                "size": 8000,
                "sha256": digest,
                "preview": "a,b\n1,2",
            },
        )
        assert put.status_code == 200, put.text
    page = http.get(f"/experiments/{tid}/artifacts").text
    assert "8.0 kB" in page and digest[:12] in page and "a,b\n1,2" in page
    # Each part of the key a whole segment, its "." encoded too.
    assert 'href="/api/v1/files/runs/x/weights%2Ebin"' in page
    link = f"/experiments/{tid}/artifacts/table/download"
    assert f'href="{link}"' in page
    download = http.get(link)
    assert download.status_code == 200
    assert download.content == local.read_bytes()
    assert "table.csv" in download.headers["content-disposition"]
    local.unlink()
    gone = http.get(link)
    assert gone.status_code == 404 and "is gone" in gone.text


def test_the_console_is_searched_on_the_server(http: httpx.Client) -> None:
    tid = _draft(http, status="running")["id"]
    lines = [{"stream": "stdout", "text": f"epoch {i} loss {1 / (i + 1):.3f}"} for i in range(5)]
    lines.append({"stream": "stderr", "text": "warning: slow disk"})
    assert http.post(f"/api/v1/tasks/{tid}/console", json={"lines": lines}).status_code == 200
    page = http.get(f"/experiments/{tid}/console").text
    assert "epoch 4 loss" in page and 'class="line line-stderr"' in page
    assert 'data-live="true"' in page
    found = http.get(f"/experiments/{tid}/console", params={"search": "WARNING"}).text
    assert "slow disk" in found and "epoch 1 loss" not in found
    none = http.get(f"/experiments/{tid}/console", params={"search": "nothing like it"}).text
    assert "No lines contain" in none
