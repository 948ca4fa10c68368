"""A run whose output destination is an S3-compatible bucket (SeaweedFS on 127.0.0.1): its
artifacts and models land in the bucket, another process reads them back, and resetting the
task with "delete artifacts" removes the objects. Credentials come from the config file, for
the script and for the server alike, and never show on the task."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scripts import run_script, script_env, unique, write_script
from tests.services import S3_TEST_BUCKET, SeaweedServer, ServerProcess
from tunelab import Task
from tunelab.sdk.transport import ApiClient
from tunelab.storage import StorageContext, exists, load_storage_credentials

SCRIPT = """
import json, sys
from tunelab import OutputModel, Task

task = Task.init(project_name=sys.argv[1], task_name="to-s3", output_uri=sys.argv[2])
task.upload_artifact("table", {"rows": [1, 2, 3]})
with open("weights.bin", "wb") as f:
    f.write(b"x" * 2048)
model = OutputModel(task, name="net")
model.update_weights("weights.bin")
print("RESULT " + json.dumps({"task": task.id, "model": model.id}))
"""


def _config(folder: Path, s3: SeaweedServer, secret: str) -> Path:
    path = folder / "config.toml"
    path.write_text(
        f'[[storage.s3]]\nhost = "{s3.endpoint}"\nkey = "{s3.key}"\nsecret = "{secret}"\n'
    )
    return path


@pytest.fixture
def s3_api(
    s3_server: SeaweedServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """A server that can delete from the bucket: its config file has the credentials."""
    home = tmp_path_factory.mktemp("s3-server")
    config = _config(home, s3_server, s3_server.secret)
    proc = ServerProcess(home / "data", env={"TUNELAB_CONFIG_FILE": str(config)})
    proc.start()
    yield proc.url, config
    proc.stop()


def test_artifacts_and_models_in_s3_and_reset_deletes_them(
    s3_server: SeaweedServer,
    s3_api: tuple[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api_url, config = s3_api
    destination = f"s3://{s3_server.endpoint}/{S3_TEST_BUCKET}/{unique('runs')}"
    script = write_script(tmp_path / "code", SCRIPT)
    env = script_env(api_url, tmp_path / "home", TUNELAB_CONFIG_FILE=str(config))
    result = run_script(script, env, unique("s3"), destination, timeout=120)
    assert result.returncode == 0, result.stderr
    seen = json.loads(next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))[7:])

    with ApiClient(api_url) as client:
        task = client.get_task(seen["task"])
        assert "table" in task["artifacts"], result.stderr
        table_uri = task["artifacts"]["table"]["uri"]
        model_uri = client.get_model(seen["model"])["uri"]
        assert table_uri.startswith(destination) and model_uri.startswith(destination)
        assert s3_server.secret not in json.dumps(task)  # credentials stay in the config

        monkeypatch.setenv("TUNELAB_API_URL", api_url)
        monkeypatch.setenv("TUNELAB_CONFIG_FILE", str(config))
        monkeypatch.setenv("HOME", str(tmp_path / "reader"))
        assert Task.get_task(task_id=seen["task"]).artifacts["table"].get() == {"rows": [1, 2, 3]}

        ctx = StorageContext(credentials=load_storage_credentials(path=config))
        assert exists(table_uri, ctx) and exists(model_uri, ctx)
        answer = client.reset_task(seen["task"], delete_artifacts=True)
        assert sorted(answer["deleted_files"]) == sorted([table_uri, model_uri])
        assert answer["failed_files"] == []
        assert not exists(table_uri, ctx) and not exists(model_uri, ctx)
        assert answer["status"] == "draft" and answer["artifacts"] == {}


def test_a_wrong_secret_fails_the_upload_clearly_not_the_run(
    s3_server: SeaweedServer, s3_api: tuple[str, Path], tmp_path: Path
) -> None:
    api_url, _ = s3_api
    config = _config(tmp_path, s3_server, "not-the-secret")
    destination = f"s3://{s3_server.endpoint}/{S3_TEST_BUCKET}/{unique('denied')}"
    script = write_script(tmp_path / "code", SCRIPT)
    env = script_env(api_url, tmp_path / "home", TUNELAB_CONFIG_FILE=str(config))
    result = run_script(script, env, unique("s3-denied"), destination, timeout=120)
    assert result.returncode == 0, result.stderr
    failures = [x for x in result.stderr.splitlines() if "failed" in x]
    assert any("artifact 'table'" in x and s3_server.endpoint in x for x in failures), failures
    assert "not-the-secret" not in result.stderr
