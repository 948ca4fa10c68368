"""The API routes of what runs leave behind: artifacts, models and a task's input model.

Mixed into ``ApiClient`` (``tunelab.sdk.transport``), which provides ``_request``.

Example::

    client = ApiClient("http://127.0.0.1:8080")
    model = client.create_model({"name": "resnet", "task_id": task_id, "framework": "PyTorch"})
    client.update_model(model["id"], uri="s3://bucket/resnet.pt", size=1024, sha256="...")
    client.list_models(project="vision", tag=["best"], published=True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunelab.domain.path_names import segment

JsonObject = dict[str, Any]


class RegistryRoutes:
    _input_params: dict[str, Any] | None
    if TYPE_CHECKING:
        _request: Callable[..., JsonObject]  # ApiClient's one seam to the network

    # ----- artifacts --------------------------------------------------------------------

    def put_artifact(self, task_id: str, name: str, body: Mapping[str, Any]) -> JsonObject:
        """Record (or replace) the artifact ``name``: type, format, uri, size, sha256, ..."""
        return self._request("PUT", _artifact_path(task_id, name), json=dict(body))

    def list_artifacts(self, task_id: str) -> JsonObject:
        return self._request("GET", f"/tasks/{segment(task_id)}/artifacts")

    # ----- debug samples ----------------------------------------------------------------

    def post_debug_sample(self, task_id: str, body: Mapping[str, Any]) -> JsonObject:
        """Record a stored file as a debug sample: title, series, iteration, kind, mime, uri,
        size, and ``max_history`` (keep that many newest iterations, the older files deleted)."""
        return self._request("POST", f"/tasks/{segment(task_id)}/debug_samples", json=dict(body))

    def get_debug_samples(self, task_id: str, **query: Any) -> JsonObject:
        """``{"samples": [...], "series": [{"title", "series", "iterations"}]}``; ``query``
        narrows by ``title``, ``series``, ``iteration``."""
        params = {k: v for k, v in query.items() if v is not None}
        return self._request("GET", f"/tasks/{segment(task_id)}/debug_samples", params=params)

    def get_artifact(self, task_id: str, name: str) -> JsonObject:
        return self._request("GET", _artifact_path(task_id, name))

    def delete_artifact(self, task_id: str, name: str, delete_file: bool = False) -> JsonObject:
        return self._request(
            "DELETE", _artifact_path(task_id, name), params={"delete_file": delete_file}
        )

    # ----- failed uploads ---------------------------------------------------------------

    def record_upload_failure(self, task_id: str, body: Mapping[str, Any]) -> JsonObject:
        """Record that the task's ``kind``/``name`` file could not be stored, and why."""
        return self._request("POST", f"/tasks/{segment(task_id)}/upload_failures", json=dict(body))

    def list_upload_failures(self, task_id: str) -> JsonObject:
        return self._request("GET", f"/tasks/{segment(task_id)}/upload_failures")

    def clear_upload_failure(self, task_id: str, kind: str, name: str) -> JsonObject:
        return self._request(
            "DELETE", f"/tasks/{segment(task_id)}/upload_failures/{segment(kind)}/{segment(name)}"
        )

    # ----- capture warnings -------------------------------------------------------------

    def record_capture_warnings(
        self, task_id: str, warnings: Sequence[Mapping[str, Any]]
    ) -> JsonObject:
        """Append what the run could not capture (``{"what", "reason", "time"}`` each)."""
        body = {"warnings": [dict(w) for w in warnings]}
        return self._request("POST", f"/tasks/{segment(task_id)}/capture-warnings", json=body)

    # ----- results back to git ----------------------------------------------------------

    def report_git_results(self, task_id: str, commit: str) -> JsonObject:
        """A git run's results commit (its bundle stored as ``git-results``): the server
        pushes it and answers what happened (``state``, ``error``, ``pull_request_url``)."""
        return self._request(
            "POST", f"/tasks/{segment(task_id)}/git-results", json={"commit": commit}
        )

    def push_git_results(self, task_id: str) -> JsonObject:
        """Push results that were not pushed again (Retry)."""
        return self._request("POST", f"/tasks/{segment(task_id)}/git-results/push", json={})

    def create_git_branch(
        self, task_id: str, branch: str, pull_request: bool = False, title: str = ""
    ) -> JsonObject:
        """A new branch (and pull request) from a completed experiment's code."""
        body = {"branch": branch, "pull_request": pull_request, "title": title}
        return self._request("POST", f"/tasks/{segment(task_id)}/git-results/branch", json=body)

    # ----- models -----------------------------------------------------------------------

    def create_model(self, body: Mapping[str, Any]) -> JsonObject:
        return self._request("POST", "/models", json=dict(body))

    def get_model(self, model_id: str) -> JsonObject:
        return self._request("GET", f"/models/{segment(model_id)}")

    def list_models(self, **query: Any) -> JsonObject:
        """``list_models(project="vision", tag=["best"], published=True, name="resnet")``."""
        return self._request("GET", "/models", params=query)

    def update_model(self, model_id: str, **fields: Any) -> JsonObject:
        return self._request("PATCH", f"/models/{segment(model_id)}", json=fields)

    def register_model_weights(self, model_id: str, **fields: Any) -> JsonObject:
        """Register a file already in storage (``uri``) as the model's weights."""
        return self._request("PUT", f"/models/{segment(model_id)}/weights", json=fields)

    def add_model_reports(self, model_id: str, reports: list[Mapping[str, Any]]) -> JsonObject:
        body = {"reports": [dict(r) for r in reports]}
        return self._request("POST", f"/models/{segment(model_id)}/reports", json=body)

    def get_model_reports(self, model_id: str) -> JsonObject:
        return self._request("GET", f"/models/{segment(model_id)}/reports")

    def publish_model(self, model_id: str) -> JsonObject:
        return self._request("POST", f"/models/{segment(model_id)}/publish", json={})

    def delete_model(self, model_id: str, delete_file: bool = False) -> JsonObject:
        return self._request(
            "DELETE", f"/models/{segment(model_id)}", params={"delete_file": delete_file}
        )

    def set_input_model(self, task_id: str, model_id: str | None) -> JsonObject:
        """A draft's input model (``None`` removes it); the running task's own SDK may set
        its own (``as_run``)."""
        return self._request(
            "PUT",
            f"/tasks/{segment(task_id)}/input_model",
            json={"model_id": model_id},
            params=self._input_params,
        )


def _artifact_path(task_id: str, name: str) -> str:
    # Artifact names are free text ("train data", "features@v2"): quote them whole.
    return f"/tasks/{segment(task_id)}/artifacts/{segment(name)}"
