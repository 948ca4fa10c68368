"""A real script against a real server (with a real S3 service configured): weights
registered where they already are (the server's store, S3) without an upload, a location
the user may not reference refused, metrics reported on a model, a registered DataFrame kept
in sync, and a wildcard uploaded as a zip of its matches. One run, several checks."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.scripts import run_script, script_env, unique, write_script
from tests.services import S3_TEST_BUCKET, SeaweedServer, ServerProcess
from tunelab.sdk.transport import ApiClient
from tunelab.storage import StorageContext, download, load_storage_credentials

SCRIPT = """
import json, os, sys
import pandas as pd
from tunelab import Logger, OutputModel, Task
from tunelab.errors import TunelabError

project, s3_uri, denied_uri, missing_uri = sys.argv[1:5]
task = Task.init(project_name=project, task_name="extras")
seen = {"task": task.id}

# A file already in the server's store: an artifact's file, registered as a model's weights.
with open("stored.bin", "wb") as f:
    f.write(b"s" * 3000)
task.upload_artifact("stored", "stored.bin", wait_on_upload=True)
in_store = task.artifacts["stored"].url
kept = OutputModel(task, name="kept")
seen["kept_uri"] = kept.update_weights(register_uri=in_store)
seen["kept"] = kept.id
in_s3 = OutputModel(task, name="in-s3")
seen["s3_uri"] = in_s3.update_weights(register_uri=s3_uri)
seen["in_s3"] = in_s3.id
errors = {}
for label, uri in (("denied", denied_uri), ("missing", missing_uri)):
    try:
        OutputModel(task, name=label).update_weights(register_uri=uri)
    except TunelabError as exc:
        errors[label] = [type(exc).__name__, str(exc)]
seen["errors"] = errors

# Metrics on the model itself.
for i, loss in enumerate([0.9, 0.5, 0.3]):
    kept.report_scalar("loss", "val", loss, iteration=i)
kept.report_single_value("accuracy", 0.93)
kept.report_table("per class", "val", iteration=2,
                  table_plot=[["class", "f1"], ["cat", 0.91], ["dog", 0.88]])
kept.report_line_plot("roc", [Logger.SeriesInfo("val", [(0, 0), (0.1, 0.7), (1, 1)])],
                      xaxis="fpr", yaxis="tpr")
seen["reports"] = kept.get_reports()

# A registered DataFrame: changed twice, then flushed.
df = pd.DataFrame({"id": [1, 2], "loss": [0.5, 0.4]})
task.register_artifact("samples", df, metadata={"split": "train"}, uniqueness_columns=["id"])
df.loc[len(df)] = [2, 0.3]
df.loc[len(df)] = [3, 0.2]
task.flush()
seen["samples"] = task.artifacts["samples"].url
try:
    task.upload_artifact("samples", {"other": 1})
except TunelabError as exc:
    seen["upload_over_registered"] = str(exc)

# A wildcard: the matching files under the folder, zipped.
os.makedirs("shots/sub", exist_ok=True)
for name, data in (("a.jpg", b"A"), ("b.png", b"B"), ("sub/c.jpg", b"CC")):
    with open(os.path.join("shots", name), "wb") as f:
        f.write(data)
task.upload_artifact("jpgs", "shots/*.jpg", wait_on_upload=True)
print("RESULT " + json.dumps(seen))
"""


@pytest.fixture(scope="module")
def world(
    s3_server: SeaweedServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """One server that may read the bucket, and the script's run against it."""
    home = tmp_path_factory.mktemp("extras")
    config = home / "config.toml"
    config.write_text(
        f'[[storage.s3]]\nhost = "{s3_server.endpoint}"\nkey = "{s3_server.key}"\n'
        f'secret = "{s3_server.secret}"\n'
    )
    ctx = StorageContext(credentials=load_storage_credentials(path=config))
    weights = home / "weights.pt"
    weights.write_bytes(b"q" * 4096)
    base = f"s3://{s3_server.endpoint}/{S3_TEST_BUCKET}/{unique('registered')}"
    from tunelab.storage import upload

    s3_uri = upload(weights, f"{base}/model.pt", ctx).uri
    proc = ServerProcess(home / "data", env={"TUNELAB_CONFIG_FILE": str(config)})
    proc.start()
    try:
        script = write_script(home / "code", SCRIPT)
        env = script_env(proc.url, home / "user", TUNELAB_CONFIG_FILE=str(config))
        denied = f"s3://127.0.0.1:1/{S3_TEST_BUCKET}/model.pt"  # a store nobody configured
        args = (unique("extras"), s3_uri, denied, f"{base}/none.pt")
        result = run_script(script, env, *args, timeout=120)
        assert result.returncode == 0, result.stderr
        line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))
        with ApiClient(proc.url) as client:
            yield {
                "seen": json.loads(line.removeprefix("RESULT ")),
                "client": client,
                "ctx": StorageContext(
                    credentials=ctx.credentials, server_url=proc.url, cache_dir=home / "cache"
                ),
                "s3_uri": s3_uri,
                "stderr": result.stderr,
                "home": home,
            }
    finally:
        proc.stop()


def test_weights_are_registered_where_they_are_without_an_upload(world: dict[str, Any]) -> None:
    seen, client = world["seen"], world["client"]
    task = client.get_task(seen["task"])
    kept = client.get_model(seen["kept"])
    assert kept["uri"] == task["artifacts"]["stored"]["uri"] == seen["kept_uri"]
    assert kept["uri"].startswith("tunelab://") and kept["size"] == 3000
    in_s3 = client.get_model(seen["in_s3"])
    assert in_s3["uri"] == world["s3_uri"] == seen["s3_uri"] and in_s3["size"] == 4096
    # Nothing was uploaded for either: the server's store holds artifacts' files only.
    stored = [p for p in (world["home"] / "data").rglob("*") if p.is_file()]
    assert any("/artifacts/stored/" in p.as_posix() for p in stored)
    assert not [p for p in stored if "/models/" in p.as_posix()]
    assert not task.get("upload_failures")
    path = download(in_s3["uri"], world["ctx"])
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hashlib.sha256(b"q" * 4096).hexdigest()


def test_a_location_the_user_may_not_reference_is_refused_clearly(world: dict[str, Any]) -> None:
    errors = world["seen"]["errors"]
    kind, message = errors["denied"]
    assert kind == "Forbidden"
    assert "127.0.0.1:1" in message and "configured" in message
    kind, message = errors["missing"]
    assert kind == "NotFound" and "none.pt" in message


def test_model_metrics_are_stored_on_the_model(world: dict[str, Any]) -> None:
    seen, client = world["seen"], world["client"]
    reports = client.get_model_reports(seen["kept"])
    assert reports == seen["reports"]
    assert reports["scalars"] == [
        {"title": "loss", "series": "val", "points": [[0, 0.9], [1, 0.5], [2, 0.3]]}
    ]
    assert reports["single_values"] == [{"name": "accuracy", "value": 0.93}]
    kinds = {(p["kind"], p["title"]): p for p in reports["plots"]}
    assert kinds[("table", "per class")]["data"]["rows"] == [["cat", 0.91], ["dog", 0.88]]
    trace = kinds[("line", "roc")]["data"]["data"][0]
    assert trace["x"] == [0, 0.1, 1] and trace["y"] == [0, 0.7, 1]
    assert client.get_model_reports(seen["in_s3"]) == {
        "scalars": [],
        "single_values": [],
        "plots": [],
    }


def test_a_registered_dataframe_holds_its_last_content(world: dict[str, Any]) -> None:
    import pandas as pd

    seen, client = world["seen"], world["client"]
    artifact = client.get_task(seen["task"])["artifacts"]["samples"]
    assert artifact["uri"] == seen["samples"] and artifact["type"] == "dataframe"
    shown = {k: artifact["metadata"].get(k) for k in ("split", "rows", "unique rows")}
    assert shown == {"split": "train", "rows": "4", "unique rows": "3"}
    path = download(artifact["uri"], world["ctx"])
    frame = (
        pd.read_parquet(path)
        if artifact["format"] == "parquet"
        else pd.read_csv(path, index_col=0, compression="gzip")
    )
    assert frame["loss"].tolist() == [0.5, 0.4, 0.3, 0.2]
    assert "registered" in seen["upload_over_registered"]


def test_a_wildcard_uploads_a_zip_of_its_matches_only(world: dict[str, Any]) -> None:
    seen, client = world["seen"], world["client"]
    artifact = client.get_task(seen["task"])["artifacts"]["jpgs"]
    assert (artifact["type"], artifact["format"]) == ("folder", "zip")
    assert artifact["metadata"] == {"files": "2"}
    path = download(artifact["uri"], world["ctx"])
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["a.jpg", "sub/c.jpg"]
        assert zf.read("sub/c.jpg") == b"CC"
