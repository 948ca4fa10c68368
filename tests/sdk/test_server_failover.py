"""Several server URLs (a server's replicas): the SDK uses the one that answers, stays with it,
and moves on when it stops answering; a script given the list runs through whichever is up."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scripts import run_script, script_env, unique, write_script
from tests.services import free_port
from tunelab.errors import ConfigError, ServerUnavailable
from tunelab.sdk.config import load_config
from tunelab.sdk.transport import ApiClient


def _dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens: the connection is refused


class _Gateway(http.server.BaseHTTPRequestHandler):
    """What a load balancer answers when the replica behind it is down (502) or did not
    answer in time (504: the request may have reached it)."""

    status = 502

    def _answer(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(f"<html>{self.status}</html>".encode())

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def _gateway(status: int) -> Iterator[str]:
    handler = type("Handler", (_Gateway,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_client_moves_past_a_dead_server_and_stays_with_the_live_one(api_url: str) -> None:
    dead = _dead_url()
    with ApiClient(f"{dead}, {api_url}/api/v1") as client:
        assert client.base_url == dead
        project = client.create_project(unique("failover"))
        assert client.base_url == api_url
        assert client.get_project(project["id"])["name"] == project["name"]
        assert client.base_url == api_url
        assert client.api_url == f"{dead},{api_url}"


def test_a_gateways_502_sends_the_request_to_the_next_server(api_url: str) -> None:
    with _gateway(502) as gateway, ApiClient([gateway, api_url]) as client:
        client.list_queues()
        assert client.base_url == api_url


def test_after_a_gateways_504_the_caller_retries_on_the_next_server(api_url: str) -> None:
    # The request may have been carried out: sending it again is the caller's choice.
    with _gateway(504) as gateway, ApiClient([gateway, api_url]) as client:
        with pytest.raises(ServerUnavailable, match="504"):
            client.list_queues()
        assert client.base_url == api_url
        client.list_queues()


def test_no_server_answering_is_server_unavailable_naming_the_last_tried() -> None:
    first, second = _dead_url(), _dead_url()
    with ApiClient(f"{first},{second}") as client:
        with pytest.raises(ServerUnavailable, match=second):
            client.list_queues()
        assert client.base_url == first  # the next call starts over from the first


def test_the_setting_takes_a_list_of_urls(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "TUNELAB_API_URL": "http://a:8080/, http://b:8080"}
    config = load_config(env)
    assert config.api_url == "http://a:8080,http://b:8080"
    assert config.api_urls == ("http://a:8080", "http://b:8080")
    assert config.web_app_url == "http://a:8080"
    path = tmp_path / "c.toml"
    path.write_text('api_url = ["http://a:8080", "http://b:8080"]\n')
    assert load_config({"HOME": str(tmp_path)}, path=path).api_urls == config.api_urls
    with pytest.raises(ConfigError, match="TUNELAB_API_URL"):
        load_config({**env, "TUNELAB_API_URL": "http://a:8080,b:8080"})
    path.write_text("api_url = []\n")
    with pytest.raises(ConfigError, match="api_url"):
        load_config({"HOME": str(tmp_path)}, path=path)


def test_a_script_given_a_dead_server_first_records_through_the_next(
    api_url: str, tmp_path: Path
) -> None:
    project = unique("failover")
    script = write_script(
        tmp_path / "code",
        f"""
        from tunelab import Task
        task = Task.init(project_name={project!r}, task_name="train")
        for i in range(5):
            task.get_logger().report_scalar("loss", "train", 1.0 / (i + 1), iteration=i)
            print(f"step {{i}}")
        """,
    )
    done = run_script(script, script_env(f"{_dead_url()},{api_url}", tmp_path))
    assert done.returncode == 0, done.stderr
    assert "could not" not in done.stderr and "offline" not in done.stderr, done.stderr
    with ApiClient(api_url) as client:
        [task] = client.list_tasks(project=project)["items"]
        assert task["status"] == "completed"
        series = client.get_scalars(task["id"], max_points=0)["metrics"]["loss"]["train"]
        assert series["x"] == [0, 1, 2, 3, 4]
