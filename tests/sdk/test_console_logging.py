"""Log lines reach the task's console once, and Tunelab's own requests stay out of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scripts import run_script, script_env, unique, write_script
from tests.services import S3_TEST_BUCKET, SeaweedServer
from tunelab.sdk.transport import ApiClient

# Handlers made before Task.init hold the streams Task.init then wraps: the root's (stderr,
# from basicConfig) and a named logger's own handler on stdout.
HANDLERS_FIRST = """
import logging, sys
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
data_log = logging.getLogger("train.data")
data_log.addHandler(logging.StreamHandler(sys.stdout))
data_log.propagate = False

from tunelab import Task

task = Task.init(project_name=PROJECT, task_name="logs")
logging.info("root line %d", 1)
data_log.info("named line on stdout")
logging.getLogger("train.model").warning("child warning")
task.get_logger().report_scalar("loss", "train", 0.5, iteration=0)
task.flush()
logging.info("last line")
"""

# The user's own httpx request logs as the user configured it; Tunelab's do not.
DEBUG_LEVEL = """
import logging, os
import httpx
logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")

from tunelab import Task

task = Task.init(project_name=PROJECT, task_name="debug", output_uri=True)
task.upload_artifact("stats", {"rows": 3})  # to the server's file store, in the background
for i in range(5):
    task.get_logger().report_scalar("loss", "train", 1.0 / (i + 1), iteration=i)
task.flush()
logging.info("USER-REQUEST-BEGIN")
httpx.get(os.environ["TUNELAB_API_URL"] + "/api/v1/health")
logging.info("USER-REQUEST-END")
task.flush()
"""

# An upload to S3 at DEBUG: botocore, s3fs and fsspec log plenty, none of it for the user.
S3_UPLOAD = """
import logging, sys
logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")

from tunelab import Task

task = Task.init(project_name=PROJECT, task_name="s3", output_uri=sys.argv[1])
task.upload_artifact("table", {"rows": [1, 2, 3]}, wait_on_upload=True)
logging.info("uploaded")
"""
_LIBRARIES = ("httpx", "httpcore", "botocore", "aiobotocore", "s3fs", "fsspec", "asyncio")


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def _console(client: ApiClient, project: str) -> list[str]:
    found = client.list_tasks(project=project)
    assert found["total"] == 1, found
    task = client.get_task(found["items"][0]["id"])
    assert task["status"] == "completed", task
    return [line["text"] for line in client.get_console(task["id"], limit=5000)["lines"]]


def _http_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(("httpx:", "httpcore."))]


def test_handlers_made_before_init_reach_the_console_once(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("sdk/logs")
    script = write_script(tmp_path / "code", f"PROJECT = {project!r}\n" + HANDLERS_FIRST)
    result = run_script(script, script_env(api_url, tmp_path))
    assert result.returncode == 0, result.stderr

    assert result.stderr.count("root: root line 1") == 1, result.stderr
    assert result.stderr.count("train.model: child warning") == 1, result.stderr
    assert result.stderr.count("root: last line") == 1, result.stderr
    assert result.stdout.count("named line on stdout") == 1, result.stdout
    console = _console(client, project)
    for line in ("root: root line 1", "named line on stdout", "train.model: child warning"):
        assert console.count(line) == 1, (line, console)
    assert console.count("root: last line") == 1, console
    # At INFO, Tunelab's own requests print nothing ("HTTP Request: POST ...").
    assert "HTTP Request" not in result.stderr + result.stdout, result.stderr
    assert not [line for line in console if "HTTP Request" in line], console


def test_tunelab_requests_stay_out_of_a_debug_log(
    api_url: str, client: ApiClient, tmp_path: Path
) -> None:
    project = unique("sdk/logs")
    script = write_script(tmp_path / "code", f"PROJECT = {project!r}\n" + DEBUG_LEVEL)
    result = run_script(script, script_env(api_url, tmp_path))
    assert result.returncode == 0, result.stderr
    assert "root: USER-REQUEST-END" in result.stderr, result.stderr

    before, _, rest = result.stderr.partition("root: USER-REQUEST-BEGIN")
    inside, _, after = rest.partition("root: USER-REQUEST-END")
    assert not _http_lines(before) and not _http_lines(after), result.stderr
    # The user's own request still logs, as the user configured it.
    requests = [line for line in _http_lines(inside) if "HTTP Request" in line]
    assert len(requests) == 1 and "/api/v1/health" in requests[0], result.stderr
    assert any(line.startswith("httpcore.") for line in _http_lines(inside)), result.stderr
    console = _console(client, project)
    assert [line for line in console if "HTTP Request" in line] == requests, console
    task_id = client.list_tasks(project=project)["items"][0]["id"]
    assert client.get_artifact(task_id, "stats")["size"] > 0


def test_tunelab_debug_shows_its_requests(api_url: str, client: ApiClient, tmp_path: Path) -> None:
    project = unique("sdk/logs")
    script = write_script(tmp_path / "code", f"PROJECT = {project!r}\n" + HANDLERS_FIRST)
    result = run_script(script, script_env(api_url, tmp_path, TUNELAB_DEBUG="1"))
    assert result.returncode == 0, result.stderr
    assert "httpx: HTTP Request: POST" in result.stderr, result.stderr
    assert result.stderr.count("root: root line 1") == 1, result.stderr


def test_an_upload_to_s3_stays_out_of_a_debug_log(
    api_url: str, client: ApiClient, s3_server: SeaweedServer, tmp_path: Path
) -> None:
    project = unique("sdk/logs")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[[storage.s3]]\nhost = "{s3_server.endpoint}"\n'
        f'key = "{s3_server.key}"\nsecret = "{s3_server.secret}"\n'
    )
    destination = f"s3://{s3_server.endpoint}/{S3_TEST_BUCKET}/{unique('logs')}"
    script = write_script(tmp_path / "code", f"PROJECT = {project!r}\n" + S3_UPLOAD)
    env = script_env(api_url, tmp_path, TUNELAB_CONFIG_FILE=str(config))
    result = run_script(script, env, destination)
    assert result.returncode == 0, result.stderr

    assert "root: uploaded" in result.stderr, result.stderr
    chatter = [line for line in result.stderr.splitlines() if line.startswith(_LIBRARIES)]
    assert not chatter, chatter
    task_id = client.list_tasks(project=project)["items"][0]["id"]
    assert client.get_artifact(task_id, "table")["uri"].startswith(destination)
