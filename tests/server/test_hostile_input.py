"""Hostile input against a real server: path traversal in file keys and artifact names,
oversized bodies and fields, deeply nested JSON, invalid UTF-8, huge parameter values.

Each gets a clear 4xx (the JSON envelope under ``/api``, an error page or toast for pages)
and changes nothing: the stored task, its files and the server's folder read back the same
after every refused request.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.answers import ok
from tests.services import ServerProcess

MAX_BODY = 12 * 1024 * 1024
JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own with a 12 MB body limit: a 10 MB field fits in a body, so the
    field's own limit is what refuses it."""
    root = tmp_path_factory.mktemp("hostile")
    proc = ServerProcess(root / "data", env={"TUNELAB_MAX_BODY_BYTES": str(MAX_BODY)})
    proc.start(timeout=120)  # a loaded CI machine starts it slowly
    yield proc
    proc.stop()


@pytest.fixture
def api(hostile_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{hostile_server.url}/api/v1", timeout=120) as http:
        yield http


@pytest.fixture
def task(api: httpx.Client) -> dict[str, Any]:
    """A draft with a hyperparameter, a tag, a stored file and an artifact naming it."""
    body = {
        "name": "target",
        "project": "hostile",
        "tags": ["keep"],
        "hyperparameters": {"Args": {"lr": {"value": "0.1", "type": "float"}}},
    }
    created = ok(api.post("/tasks", json=body), 201)
    ok(api.put(f"/files/hostile/{created['id']}/w.bin", content=b"weights"), 201)
    artifact = {"type": "file", "format": "bin", "uri": "tunelab://x", "size": 7, "sha256": ""}
    ok(api.put(f"/tasks/{created['id']}/artifacts/weights", json=artifact))
    return dict(ok(api.get(f"/tasks/{created['id']}")))


def state(api: httpx.Client, server: ServerProcess, task_id: str) -> tuple[Any, ...]:
    """Everything a refused request could have changed: the task, the task list, the files."""
    files = sorted(
        str(p.relative_to(server.data_dir.parent))
        for p in server.data_dir.parent.rglob("*")
        if p.is_file() and not p.name.startswith(("tunelab.db", "server.log"))
    )
    listing = ok(api.get("/tasks", params={"project": "hostile", "page_size": 500}))
    return ok(api.get(f"/tasks/{task_id}")), listing["total"], files


def refused(response: httpx.Response, status: int, *, page: bool = False) -> str:
    """The error's message, after checking its status and shape."""
    assert response.status_code == status, response.text[:500]
    if page:
        assert "text/html" in response.headers["content-type"]
        return response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "detail"}
    return str(error["message"])


def raw_request(
    server: ServerProcess, method: str, path: str, body: bytes | None = None
) -> tuple[int, bytes]:
    """A request whose path goes out byte for byte (httpx would normalize ``..``)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers={"content-type": "application/octet-stream"})
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


TRAVERSALS = [
    "../../escaped",
    "%2e%2e/%2e%2e/escaped",
    "a/%2e%2e/%2e%2e/%2e%2e/escaped",
    "%2fetc%2fescaped",
    "..%5c..%5cescaped",
    "a%00escaped",
    "a/./b",
]


@pytest.mark.parametrize("key", TRAVERSALS)
def test_file_routes_refuse_keys_that_leave_the_store(
    api: httpx.Client, hostile_server: ServerProcess, task: dict[str, Any], key: str
) -> None:
    before = state(api, hostile_server, task["id"])
    routes = [
        ("PUT", f"/api/v1/files/{key}", b"evil"),
        ("GET", f"/api/v1/files/{key}", None),
        ("HEAD", f"/api/v1/files/{key}", None),
        ("DELETE", f"/api/v1/files/{key}", None),
        ("POST", f"/api/v1/files/{key}/uploads", None),
    ]
    for method, path, body in routes:
        status, answer = raw_request(hostile_server, method, path, body)
        # 400 for a key the store refuses; 404 when the client's own path resolution moved
        # the request off the route (never 2xx, never 5xx).
        assert status in (400, 404), (method, path, status, answer[:300])
        if method != "HEAD":
            assert set(json.loads(answer)["error"]) == {"code", "message", "detail"}
    assert state(api, hostile_server, task["id"]) == before
    assert not [p for p in Path("/").glob("escaped*")]


@pytest.mark.parametrize("name", ["..", "%2e%2e", ".", "a%5cb", "..%5c..%5cx", "a%00b", "%2fetc"])
def test_artifact_routes_refuse_names_that_are_paths(
    api: httpx.Client, hostile_server: ServerProcess, task: dict[str, Any], name: str
) -> None:
    before = state(api, hostile_server, task["id"])
    artifact = {"type": "file", "format": "bin", "uri": "tunelab://x", "size": 1, "sha256": ""}
    base = f"/api/v1/tasks/{task['id']}/artifacts/{name}"
    put_status, answer = raw_request(hostile_server, "PUT", base, json.dumps(artifact).encode())
    # http.client sends octet-stream; send JSON with httpx too (it keeps %-escapes as sent).
    put = api.put(f"/tasks/{task['id']}/artifacts/{name}", json=artifact)
    # 405: httpx resolved ".." itself and the request landed on PUT /tasks/{id}.
    assert put.status_code in (400, 404, 405), put.text
    assert put_status in (400, 404, 415), answer[:300]
    for method in ("GET", "DELETE"):
        status, answer = raw_request(hostile_server, method, base)
        assert status in (400, 404), (method, status, answer[:300])
    assert state(api, hostile_server, task["id"]) == before


def test_a_body_over_the_limit_is_a_413_declared_or_streamed(
    api: httpx.Client, hostile_server: ServerProcess, task: dict[str, Any]
) -> None:
    before = state(api, hostile_server, task["id"])
    big = b"x" * (MAX_BODY + 1)
    declared = api.put(f"/files/hostile/{task['id']}/big.bin", content=big)
    assert "larger than" in refused(declared, 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts as it reads
        for _ in range(13):
            yield b"y" * (1024 * 1024)

    streamed = api.put(f"/files/hostile/{task['id']}/big.bin", content=chunks())
    refused(streamed, 413)
    hyper = {"Args": {"lr": {"value": "x" * (MAX_BODY + 1)}}}
    refused(api.put(f"/tasks/{task['id']}/hyperparameters", json=hyper), 413)
    assert state(api, hostile_server, task["id"]) == before


def test_huge_fields_are_refused_with_a_400(
    api: httpx.Client, hostile_server: ServerProcess, task: dict[str, Any]
) -> None:
    before = state(api, hostile_server, task["id"])
    tid = task["id"]
    ten_mb = {"Args": {"lr": {"value": "9" * (10 * 1024 * 1024)}}}
    assert "lr.value" in refused(api.patch(f"/tasks/{tid}/hyperparameters", json=ten_mb), 400)
    section = {"Big": {f"p{i}": {"value": str(i)} for i in range(100_000)}}
    refused(api.put(f"/tasks/{tid}/hyperparameters", json=section), 400)
    one_mb_tag = {"tags": ["t" * (1024 * 1024)]}
    assert "tags.0" in refused(api.patch(f"/tasks/{tid}", json=one_mb_tag), 400)
    new_task = {"name": "n", "project": "hostile", "tags": ["t" * (1024 * 1024)]}
    refused(api.post("/tasks", json=new_task), 400)
    props = {f"p{i}": {"value": "v"} for i in range(100_000)}
    refused(api.put(f"/tasks/{tid}/user_properties", json=props), 400)
    refused(api.get("/tasks", params={"page": 2**70}), 400)
    refused(api.get(f"/tasks/{tid}/console", params={"after": 2**70}), 400)
    refused(api.patch(f"/tasks/{tid}", json={"last_iteration": 2**70}), 400)
    assert state(api, hostile_server, task["id"]) == before


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_deeply_nested_json_is_a_400_that_says_so(
    api: httpx.Client, hostile_server: ServerProcess, task: dict[str, Any]
) -> None:
    before = state(api, hostile_server, task["id"])
    tid = task["id"]
    bodies = [
        ("POST", "/tasks", b'{"name": "n", "project": "hostile", "tags": %s}'),
        ("PATCH", f"/tasks/{tid}/hyperparameters", b'{"Args": {"lr": {"value": %s}}}'),
        ("PUT", f"/tasks/{tid}/artifacts/deep", b'{"type": "t", "metadata": {"m": %s}}'),
        ("POST", f"/tasks/{tid}/plots", b'{"plots": [{"data": {"x": %s}}]}'),
    ]
    for depth in (200, 990, 100_000):
        for method, path, template in bodies:
            answer = api.request(method, path, content=template % nested(depth), headers=JSON)
            assert "nested" in refused(answer, 400), (method, path, depth)
    # Brackets inside strings are text, not nesting.
    text = {"Args": {"lr": {"value": "[" * 5000}}}
    ok(api.patch(f"/tasks/{tid}/hyperparameters", json=text))
    ok(api.patch(f"/tasks/{tid}/hyperparameters", json={"Args": {"lr": None}}))
    assert state(api, hostile_server, task["id"])[2] == before[2]


def test_invalid_utf8_in_bodies_paths_and_queries_is_a_400(
    api: httpx.Client, hostile_server: ServerProcess, task: dict[str, Any]
) -> None:
    before = state(api, hostile_server, task["id"])
    tid = task["id"]
    body = b'{"name": "bad \xff\xfe", "project": "hostile"}'
    assert "UTF-8" in refused(api.post("/tasks", content=body, headers=JSON), 400)
    hyper = b'{"Args": {"lr": {"value": "\xc3\x28"}}}'
    refused(api.patch(f"/tasks/{tid}/hyperparameters", content=hyper, headers=JSON), 400)
    assert "UTF-8" in refused(api.get("/tasks?search=%ff%fe"), 400)
    assert "UTF-8" in refused(api.get("/tasks/%ff%fe"), 400)
    assert "UTF-8" in refused(api.get(f"/tasks/{tid}/artifacts/%c3%28"), 400)
    assert state(api, hostile_server, task["id"]) == before


def test_invalid_utf8_in_a_page_form_is_an_error_page_or_toast(
    api: httpx.Client, hostile_server: ServerProcess, task: dict[str, Any]
) -> None:
    before = state(api, hostile_server, task["id"])
    tid = task["id"]
    form = b"p-0-name=lr&p-0-type=float&p-0-value=%ff%fe"
    with httpx.Client(base_url=hostile_server.url, timeout=60, follow_redirects=True) as web:
        # A page visit sets the CSRF cookie; forms send it back in the header, as htmx does.
        ok_page = web.get(f"/experiments/{tid}")
        assert ok_page.status_code == 200
        form_headers = {**FORM, "x-csrf-token": web.cookies.get("tunelab_csrf", "")}
        path = f"/experiments/{tid}/hyperparameters/Args"
        page = web.post(path, content=form, headers=form_headers)
        assert "UTF-8" in refused(page, 400, page=True)
        htmx = {**form_headers, "HX-Request": "true"}
        toast = web.post(path, content=form, headers=htmx)
        assert "UTF-8" in refused(toast, 400, page=True)
        assert toast.headers["HX-Retarget"] == "#toasts"
        query = web.get("/experiments?search=%ff")
        assert "UTF-8" in refused(query, 400, page=True)
    assert state(api, hostile_server, task["id"]) == before


def test_lone_surrogate_escapes_in_json_are_a_400(
    api: httpx.Client, hostile_server: ServerProcess, task: dict[str, Any]
) -> None:
    """``"\\ud800"`` is valid JSON but no text: UTF-8 has no encoding for half a pair, so no
    store could hold it. Routes that read their body untyped (MLflow's) would reach the store
    with it; the guard refuses it for all, as it refuses NUL."""
    mlflow = f"{hostile_server.url}/mlflow/api/2.0/mlflow"
    experiment = ok(api.post(f"{mlflow}/experiments/create", json={"name": "surrogates"}))
    run = ok(api.post(f"{mlflow}/runs/create", json=experiment))["run"]["info"]["run_id"]
    batch = b'{"run_id": "%s", "metrics": [{"key": "%s", "value": 1, "timestamp": 1, "step": 0}]}'
    for key in (rb"lone\ud800", rb"\udc00low", rb"\\\ud800", rb"\\ud800\udc00", rb"\udbff\ud800"):
        answer = api.post(
            f"{mlflow}/runs/log-batch", content=batch % (run.encode(), key), headers=JSON
        )
        assert answer.status_code == 400, (key, answer.text[:300])
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    tid = task["id"]
    hyper = b'{"Args": {"lr": {"value": "half \\udfff"}}}'
    assert "surrogate" in refused(
        api.patch(f"/tasks/{tid}/hyperparameters", content=hyper, headers=JSON), 400
    )
    # A whole pair is a character, and an escaped backslash makes the rest plain text.
    for key in (rb"pair\ud83d\ude00", rb"text\\ud800"):
        ok(api.post(f"{mlflow}/runs/log-batch", content=batch % (run.encode(), key), headers=JSON))
    history = ok(
        api.get(
            f"{mlflow}/metrics/get-history", params={"run_id": run, "metric_key": "pair\U0001f600"}
        )
    )
    assert [m["value"] for m in history["metrics"]] == [1.0]
    ok(
        api.get(
            f"{mlflow}/metrics/get-history", params={"run_id": run, "metric_key": "text\\ud800"}
        )
    )
