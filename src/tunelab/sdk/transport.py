"""``ApiClient``: the JSON API of ``docs/api.md`` as typed methods, one per route.

Every call goes through ``ApiClient._send``, the one seam to the network (``_request`` reads
its JSON; scalar reads take the binary frame). An error
answer is raised as the exception the server raised (``NotFound``, ``InvalidInput``,
``Conflict``, ...), rebuilt from its ``code``; no answer at all (refused connection,
timeout, a proxy's 502 page) is ``ServerUnavailable`` naming the URL.

Given several URLs (the replicas of one server: ``ApiClient("http://a:8080,http://b:8080")``),
the client stays with the one that answers and moves to the next when it does not
(``tunelab.sdk.server_list``). A request that surely never reached a server (connection
refused, connect timeout, a proxy's 502 or 503) is sent to the next one at once; one that may
have (the connection dropped mid-answer, a 504) raises ``ServerUnavailable`` as with one URL,
and the caller's retry, whose batch id keeps it stored once, goes to the next.

Example::

    client = ApiClient("http://127.0.0.1:8080")
    task = client.create_task({"name": "baseline", "project": "vision/resnet"})
    client.set_hyperparameters(task["id"], {"Args": {"lr": {"value": "0.1", "type": "float"}}})
    client.get_metrics(task["id"])

Tests inject an ``httpx.Client`` (``ApiClient(url, http=client)``); the client is then
the caller's to close.
"""

from __future__ import annotations

import copy
import json as jsonlib
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from tunelab.domain.path_names import segment
from tunelab.domain.scalar_wire import FRAME_CONTENT_TYPE, decode_read_frame, encode_frame
from tunelab.domain.storable_text import storable_text
from tunelab.errors import InvalidInput, ServerUnavailable, TunelabError, from_code
from tunelab.sdk.own_requests import own_request
from tunelab.sdk.server_list import ServerList
from tunelab.sdk.transport_registry import RegistryRoutes

JsonObject = dict[str, Any]

_API_PREFIX = "/api/v1"
# With several servers, a dead one is given up on after this long rather than the full timeout.
_FAILOVER_CONNECT_TIMEOUT = 5.0
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
# A gateway's answers that say the request never reached a server: the next one gets it now.
_NOT_FORWARDED = frozenset({502, 503})
# ... and one that may have reached it (the server is slow or died mid-answer).
_MAYBE_FORWARDED = frozenset({504})


class ApiClient(RegistryRoutes):
    """Artifacts and models routes come from ``RegistryRoutes``."""

    def __init__(
        self,
        base_url: str | Sequence[str],
        *,
        http: httpx.Client | None = None,
        token: str | None = None,
        timeout: float = 30,
        as_run: bool = False,
    ) -> None:
        """``as_run=True``: this client records a running task's own inputs (``Task.connect``
        after ``Task.init``), which the server allows while the task runs (``force=true``).
        ``base_url``: one URL, or the replicas' URLs (a comma-separated text or a sequence)."""
        self.servers = ServerList.parse(base_url)
        self.timeout = timeout
        self._owns_http = http is None
        tls = any(url.startswith("https://") for url in self.servers.urls)
        self._http = http if http is not None else _new_http(tls, timeout)
        self.token = token
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._input_params = {"force": True} if as_run else None

    def as_run_client(self) -> ApiClient:
        """This client on the same connection, writing inputs as the running task's own SDK
        (``force=true``): what replaying a run's spool or offline session needs."""
        twin = copy.copy(self)
        twin._owns_http = False
        twin._input_params = {"force": True}
        return twin

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ApiClient({self.servers.setting!r})"

    @property
    def base_url(self) -> str:
        """The server this client talks to now (one of ``servers``)."""
        return self.servers.current()

    @property
    def api_url(self) -> str:
        """Every server URL, comma-separated: the ``TUNELAB_API_URL`` of a process that
        should reach the same servers (a task's script)."""
        return self.servers.setting

    # ----- projects ---------------------------------------------------------------------

    def create_project(self, name: str, description: str = "") -> JsonObject:
        return self._request("POST", "/projects", json={"name": name, "description": description})

    def list_projects(self, parent: str | None = None) -> JsonObject:
        return self._request("GET", "/projects", params={"parent": parent})

    def get_project(self, project_id: str) -> JsonObject:
        return self._request("GET", f"/projects/{segment(project_id)}")

    def get_repository(self, project_id: str) -> JsonObject:
        """The git repository the project is linked to (NotFound: none)."""
        return self._request("GET", f"/projects/{segment(project_id)}/repository")

    def link_repository(self, project_id: str, body: Mapping[str, Any]) -> JsonObject:
        """Link the project: ``{"url", "default_branch", "params_files", "metrics_files"}``."""
        return self._request("PUT", f"/projects/{segment(project_id)}/repository", json=dict(body))

    def unlink_repository(self, project_id: str) -> JsonObject:
        return self._request("DELETE", f"/projects/{segment(project_id)}/repository")

    def get_ci_settings(self, project_id: str) -> JsonObject:
        """The CI setup wizard's saved fields: ``{"saved": bool, "settings": {...}}``."""
        return self._request("GET", f"/projects/{segment(project_id)}/ci-settings")

    def save_ci_settings(self, project_id: str, settings: Mapping[str, Any]) -> JsonObject:
        return self._request(
            "PUT", f"/projects/{segment(project_id)}/ci-settings", json=dict(settings)
        )

    # ----- tasks ------------------------------------------------------------------------

    def create_task(self, body: Mapping[str, Any]) -> JsonObject:
        return self._request("POST", "/tasks", json=dict(body))

    def get_task(self, task_id: str) -> JsonObject:
        return self._request("GET", f"/tasks/{segment(task_id)}")

    def update_task(self, task_id: str, **fields: Any) -> JsonObject:
        return self._request(
            "PATCH", f"/tasks/{segment(task_id)}", json=fields, params=self._input_params
        )

    def list_tasks(self, **query: Any) -> JsonObject:
        """``list_tasks(project="vision", status=["running", "failed"], tag=["a"])``."""
        return self._request("GET", "/tasks", params=query)

    def set_hyperparameters(
        self, task_id: str, params: Mapping[str, Any], replace: bool = False
    ) -> JsonObject:
        return self._put_or_patch(f"/tasks/{segment(task_id)}/hyperparameters", params, replace)

    def set_configuration(
        self, task_id: str, objs: Mapping[str, Any], replace: bool = False
    ) -> JsonObject:
        return self._put_or_patch(f"/tasks/{segment(task_id)}/configuration", objs, replace)

    def set_user_properties(
        self, task_id: str, props: Mapping[str, Any], replace: bool = False
    ) -> JsonObject:
        return self._put_or_patch(f"/tasks/{segment(task_id)}/user_properties", props, replace)

    # ----- scalars ----------------------------------------------------------------------

    def post_scalars(self, task_id: str, batch: Mapping[str, Any]) -> JsonObject:
        """Send a ``ScalarBatch``; a ``batch_id`` already stored answers ``duplicate: true``.

        Arrays given as bytes (what the reporter packs) go as one binary frame, which the
        server decodes without base64 or JSON; base64 text or lists go as JSON.
        """
        series = batch["series"]
        if series and all(isinstance(s["iterations"], bytes) for s in series):
            frame = encode_frame(batch.get("batch_id"), series)
            return self._request(
                "POST", f"/tasks/{segment(task_id)}/scalars/frame", content=frame,
                content_type=FRAME_CONTENT_TYPE,
            )  # fmt: skip
        return self._request("POST", f"/tasks/{segment(task_id)}/scalars", json=dict(batch))

    def get_scalars(
        self,
        task_id: str,
        max_points: int = 2000,
        metrics: Sequence[str] | None = None,
        variants: Sequence[str] | None = None,
    ) -> JsonObject:
        """``ScalarData``; ``max_points=0`` reads every point.

        The server answers a binary frame (its stored arrays, no number as text), which reads
        back as the JSON answer would: a non-finite value is None."""
        params = {"max_points": max_points, "metric": metrics, "variant": variants}
        path = f"/tasks/{segment(task_id)}/scalars"
        response = self._send("GET", path, params=params, accept=FRAME_CONTENT_TYPE)
        if response.headers.get("content-type", "").startswith(FRAME_CONTENT_TYPE):
            return _scalar_data(response.content, self.base_url, path)
        return self._answer(response, "GET", path)  # a server that predates the frame

    def get_metrics(self, task_id: str) -> JsonObject:
        return self._request("GET", f"/tasks/{segment(task_id)}/metrics")

    def ping_task(self, task_id: str) -> JsonObject:
        """The run is alive (sent when it has sent nothing for a while); answers its
        ``status`` and ``stop_requested``."""
        return self._request("POST", f"/tasks/{segment(task_id)}/ping")

    # ----- console ----------------------------------------------------------------------

    def post_console(
        self, task_id: str, lines: Sequence[Mapping[str, Any]], batch_id: str | None = None
    ) -> JsonObject:
        body: JsonObject = {"lines": list(lines)}
        if batch_id is not None:
            body["batch_id"] = batch_id
        return self._request("POST", f"/tasks/{segment(task_id)}/console", json=body)

    def get_console(
        self, task_id: str, after: int = 0, limit: int = 1000, search: str | None = None
    ) -> JsonObject:
        params = {"after": after, "limit": limit, "search": search}
        return self._request("GET", f"/tasks/{segment(task_id)}/console", params=params)

    # ----- plots ------------------------------------------------------------------------

    def post_plots(
        self, task_id: str, plots: Sequence[Mapping[str, Any]], batch_id: str | None = None
    ) -> JsonObject:
        """Store plots (``tunelab.domain.plots``); a ``batch_id`` already stored answers
        ``duplicate: true``."""
        body: JsonObject = {"plots": list(plots)}
        if batch_id is not None:
            body["batch_id"] = batch_id
        return self._request("POST", f"/tasks/{segment(task_id)}/plots", json=body)

    def get_plots(
        self,
        task_id: str,
        title: str | None = None,
        series: str | None = None,
        iteration: int | None = None,
        last_only: bool = False,
    ) -> JsonObject:
        """``{"plots": [...]}`` ordered by title, series, iteration."""
        params = {"title": title, "series": series, "iteration": iteration, "last_only": last_only}
        return self._request("GET", f"/tasks/{segment(task_id)}/plots", params=params)

    # ----- lifecycle --------------------------------------------------------------------

    def clone_task(
        self,
        task_id: str,
        name: str | None = None,
        project: str | None = None,
        comment: str | None = None,
        set_as_parent: bool = False,
    ) -> JsonObject:
        body = {
            "name": name,
            "project": project,
            "comment": comment,
            "set_as_parent": set_as_parent,
        }
        return self._action(task_id, "clone", {k: v for k, v in body.items() if v is not None})

    def reset_task(self, task_id: str, delete_artifacts: bool = False) -> JsonObject:
        return self._action(task_id, "reset", {"delete_artifacts": delete_artifacts})

    def enqueue_task(self, task_id: str, queue: str = "default") -> JsonObject:
        return self._action(task_id, "enqueue", {"queue": queue})

    def dequeue_task(self, task_id: str) -> JsonObject:
        return self._action(task_id, "dequeue")

    def stop_task(self, task_id: str, reason: str = "") -> JsonObject:
        return self._action(task_id, "stop", {"reason": reason} if reason else {})

    def stop_pipeline(self, task_id: str, reason: str = "") -> JsonObject:
        """Stop a pipeline run: its controller and every step still queued or running."""
        body = {"reason": reason} if reason else {}
        return self._request("POST", f"/tasks/{segment(task_id)}/pipeline/stop", json=body)

    def publish_task(self, task_id: str) -> JsonObject:
        return self._action(task_id, "publish")

    def archive_task(self, task_id: str) -> JsonObject:
        return self._action(task_id, "archive")

    def unarchive_task(self, task_id: str) -> JsonObject:
        return self._action(task_id, "unarchive")

    def delete_task(self, task_id: str, delete_artifacts: bool = False) -> JsonObject:
        """``{"deleted", "deleted_files", "failed_files"}``: with ``delete_artifacts`` the
        server also deletes the files of the task's artifacts and models from storage."""
        return self._request(
            "DELETE", f"/tasks/{segment(task_id)}", params={"delete_artifacts": delete_artifacts}
        )

    def start_task(self, task_id: str, worker: str) -> JsonObject:
        return self._action(task_id, "start", {"worker": worker})

    # ----- queues and workers -----------------------------------------------------------

    def list_queues(self) -> JsonObject:
        return self._request("GET", "/queues")

    def create_queue(self, name: str) -> JsonObject:
        return self._request("POST", "/queues", json={"name": name})

    def queue_entries(self, queue: str) -> JsonObject:
        return self._request("GET", f"/queues/{segment(queue)}/entries")

    def move_queue_entry(
        self, queue: str, task_id: str, to: str, before: str | None = None
    ) -> JsonObject:
        body: JsonObject = {"to": to}
        if before is not None:
            body["before"] = before
        return self._request(
            "POST", f"/queues/{segment(queue)}/entries/{segment(task_id)}/move", json=body
        )

    def register_worker(
        self,
        worker_id: str,
        queues: Sequence[str],
        host: str = "",
        task_id: str | None = None,
        jobs: Sequence[str] = (),
    ) -> JsonObject:
        """Register (again); ``task_id``: the task this agent runs now, None for a new agent
        process (the server then fails what still runs under ``worker_id``); ``jobs``: the
        tasks a launcher runs as scheduler jobs, which go on too."""
        body: JsonObject = {"id": worker_id, "queues": list(queues), "host": host}
        body["task_id"] = task_id
        if jobs:
            body["jobs"] = list(jobs)
        return self._request("POST", "/workers", json=body)

    def list_workers(self) -> JsonObject:
        return self._request("GET", "/workers")

    def heartbeat(self, worker_id: str, task_id: str | None = None) -> JsonObject:
        """``{"stop": [task ids]}``: the tasks this worker runs that were asked to stop."""
        url = f"/workers/{segment(worker_id)}/heartbeat"
        return self._request("POST", url, json={"task_id": task_id})

    def next_task(self, worker_id: str, timeout: float = 30) -> JsonObject | None:
        """The next task for this worker, now running on it; None after ``timeout`` seconds."""
        answer = self._request(
            "POST",
            f"/workers/{segment(worker_id)}/next",
            json={"timeout": timeout},
            read_timeout=timeout + self.timeout,
        )
        task: JsonObject | None = answer.get("task")
        return task

    def unregister_worker(self, worker_id: str) -> None:
        self._request("DELETE", f"/workers/{segment(worker_id)}")

    def _action(
        self, task_id: str, action: str, body: Mapping[str, Any] | None = None
    ) -> JsonObject:
        return self._request("POST", f"/tasks/{segment(task_id)}/{action}", json=dict(body or {}))

    # ----- the seam ---------------------------------------------------------------------

    def _put_or_patch(self, path: str, body: Mapping[str, Any], replace: bool) -> JsonObject:
        method = "PUT" if replace else "PATCH"
        return self._request(method, path, json=dict(body), params=self._input_params)

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        read_timeout: float | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> JsonObject:
        response = self._send(
            method, path, json=json, params=params, read_timeout=read_timeout,
            content=content, content_type=content_type,
        )  # fmt: skip
        return self._answer(response, method, path)

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        read_timeout: float | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
        accept: str | None = None,
    ) -> httpx.Response:
        query = _query(params) if params else None
        headers = self._headers
        if accept is not None:
            headers = {**headers, "Accept": accept}
        if json is not None:
            content = _encode(json, method, path)
            headers = {**headers, "Content-Type": "application/json"}
        elif content is not None:
            headers = {**headers, "Content-Type": content_type or "application/octet-stream"}
        seconds = read_timeout or self.timeout
        timeout: float | httpx.Timeout = seconds
        bases = self.servers.rotation()
        if len(bases) > 1:
            timeout = httpx.Timeout(seconds, connect=min(seconds, _FAILOVER_CONNECT_TIMEOUT))
        for tried, base in enumerate(bases, 1):
            url = f"{base}{_API_PREFIX}{path}"
            try:
                with own_request():  # its log lines are not the user's (TUNELAB_DEBUG shows them)
                    response = self._http.request(
                        method, url, content=content, params=query, headers=headers,
                        timeout=timeout,
                    )  # fmt: skip
            except httpx.TransportError as exc:
                self.servers.failed(base)
                if tried < len(bases) and isinstance(exc, _NEVER_SENT):
                    continue  # it never reached this server: the next one gets it
                raise ServerUnavailable(
                    f"no answer from the Tunelab server at {base} ({method} {path}): "
                    f"{exc or type(exc).__name__}",
                    {"url": url},
                ) from exc
            status = response.status_code
            if status in _NOT_FORWARDED | _MAYBE_FORWARDED:
                self.servers.failed(base)
                if tried < len(bases) and status in _NOT_FORWARDED:
                    continue
            if status >= 400:
                raise _error(response, url)
            return response
        raise AssertionError("unreachable: the last server's answer is returned or raised")

    def _answer(self, response: httpx.Response, method: str, path: str) -> JsonObject:
        url = f"{self.base_url}{_API_PREFIX}{path}"
        if response.status_code == 204:
            return {}
        try:
            answer = response.json()
        except ValueError:
            raise ServerUnavailable(
                f"{self.base_url} answered {method} {path} with something that is not JSON "
                "(is that a Tunelab server?)",
                {"url": url, "status": response.status_code},
            ) from None
        if not isinstance(answer, dict):
            raise ServerUnavailable(f"{self.base_url} answered {method} {path} with {answer!r}")
        return answer


def all_items(
    list_page: Callable[..., JsonObject], limit: int | None = None, **query: Any
) -> list[JsonObject]:
    """Every item of a paged listing (``client.list_tasks``, ``client.list_models``), page
    after page of 500, stopping once ``limit`` items are in."""
    size = min(limit or 500, 500)
    items: list[JsonObject] = []
    page = 1
    while True:
        found = list_page(page=page, page_size=size, **query)
        items.extend(found["items"])
        if (limit and len(items) >= limit) or page * found["page_size"] >= found["total"]:
            return items[:limit] if limit else items
        page += 1


def _scalar_data(raw: bytes, base_url: str, path: str) -> JsonObject:
    """A read frame as the JSON answer's ``{"metrics": ..., "cursor": ...}``."""
    try:
        header, columns = decode_read_frame(raw)
    except (ValueError, KeyError, TypeError) as exc:
        message = f"{base_url} answered GET {path} with a damaged frame: {exc}"
        raise ServerUnavailable(message) from None
    metrics: dict[str, dict[str, JsonObject]] = {}
    for s, (its, vals, stamps) in zip(header["series"], columns, strict=True):
        metrics.setdefault(s["metric"], {})[s["variant"]] = {
            "x": its,
            "y": vals if math.isfinite(sum(vals)) else [_finite(v) for v in vals],
            "t": stamps,
            "total": s["total"],
            "downsampled": s["downsampled"],
        }
    return {"metrics": metrics, "cursor": header["cursor"]}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _new_http(tls: bool, timeout: float) -> httpx.Client:
    # Loading the CA bundle costs ~0.1 s per client: do it only for an https server. Redirects
    # are not followed, so a plain-http client never talks TLS to anyone.
    if tls:
        return httpx.Client(timeout=timeout)
    return httpx.Client(timeout=timeout, verify=False)


def _encode(body: Any, method: str, path: str) -> bytes:
    try:
        text = jsonlib.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{method} {path}: the body cannot be sent as JSON: {exc}") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # half a surrogate pair: U+FFFD, as everywhere in the SDK
        return storable_text(text).encode("utf-8")


def _query(params: Mapping[str, Any]) -> list[tuple[str, str | int | float | bool | None]]:
    """Drop None; a list becomes repeated parameters; booleans are ``true``/``false``."""
    pairs: list[tuple[str, str | int | float | bool | None]] = []
    for key, value in params.items():
        for item in value if isinstance(value, (list, tuple, set, frozenset)) else [value]:
            if item is None:
                continue
            text = ("true" if item else "false") if isinstance(item, bool) else storable_text(item)
            pairs.append((key, text))
    return pairs


def _error(response: httpx.Response, url: str) -> TunelabError:
    status = response.status_code
    try:
        error = response.json()["error"]
        exc = from_code(str(error["code"]), str(error["message"]), error.get("detail"))
    except (ValueError, KeyError, TypeError):
        # Not our envelope: a proxy or a load balancer answered. Its 5xx means "try later".
        text = response.text[:200].strip() or response.reason_phrase
        message = f"{response.request.method} {url} answered {status}: {text}"
        if status >= 500:
            return ServerUnavailable(message, {"url": url, "status": status})
        exc = TunelabError(message, {"url": url})
    exc.status = status  # the HTTP status decides retry (5xx) or drop (4xx) in the reporter
    return exc
