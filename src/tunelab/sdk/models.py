"""Models: entities of their own, found by id, name, project or tag, not only via their task.

Example::

    from tunelab import InputModel, OutputModel, Task

    task = Task.init(project_name="vision", task_name="train")
    start = task.connect(InputModel(model_id="4c1d..."))     # an agent may swap it for another
    weights = start.get_local_copy()
    ...
    out = OutputModel(task, name="resnet", framework="PyTorch", label_enumeration={"cat": 0})
    out.update_weights("model.pt")       # uploaded in the background, then registered
    out.publish()

    best = InputModel.query_models(project_name="vision", tags=["best"], only_published=True)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tunelab.errors import InvalidInput, NotFound
from tunelab.sdk.config import load_config
from tunelab.sdk.model_reports import ModelReporting
from tunelab.sdk.transport import all_items
from tunelab.sdk.uploads import Progress


class Model:
    """A stored model: its record and, on demand, its weights file."""

    def __init__(self, data: Mapping[str, Any], client: Any = None) -> None:
        self._data = dict(data)
        self._client = client if client is not None else _default_client()

    @property
    def id(self) -> str:
        return str(self._data["id"])

    @property
    def name(self) -> str:
        return str(self._data["name"])

    @property
    def project(self) -> str:
        return str((self._data.get("project") or {}).get("name", ""))

    @property
    def framework(self) -> str:
        return str(self._data.get("framework") or "")

    @property
    def url(self) -> str:
        """Where the weights are stored; empty until a file was registered."""
        return str(self._data.get("uri") or "")

    @property
    def config_text(self) -> str:
        return str(self._data.get("config_text") or "")

    @property
    def config_dict(self) -> dict[str, Any]:
        """The configuration parsed as JSON (or YAML); empty when there is none."""
        text = self.config_text.strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError:
            import yaml  # type: ignore[import-untyped]

            value = yaml.safe_load(text)
        return dict(value) if isinstance(value, Mapping) else {"value": value}

    @property
    def labels(self) -> dict[str, int]:
        return dict(self._data.get("labels") or {})

    @property
    def tags(self) -> list[str]:
        return list(self._data.get("tags") or [])

    @property
    def comment(self) -> str:
        return str(self._data.get("comment") or "")

    @property
    def published(self) -> bool:
        return bool(self._data.get("published"))

    @property
    def task(self) -> str | None:
        """The id of the task that created this model."""
        task_id = self._data.get("task_id")
        return str(task_id) if task_id else None

    def get_local_copy(self) -> Path:
        """The weights file on this machine, downloaded once and checked against its sha256."""
        from tunelab.storage import StorageContext, download

        self._refresh()
        if not self.url:
            raise NotFound(f"model {self.name!r} ({self.id}) has no weights file yet")
        return download(
            self.url,
            StorageContext.from_config(load_config()),
            sha256=self._data.get("sha256") or None,
            progress=Progress("downloading", f"model {self.name!r}"),
        )

    def _refresh(self) -> None:
        self._data = self._client.get_model(self.id)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.name!r}>"


class InputModel(Model):
    """A model a task starts from: ``InputModel(model_id=...)`` or found by name/project."""

    def __init__(
        self,
        model_id: str | None = None,
        name: str | None = None,
        project: str | None = None,
        tags: list[str] | None = None,
        only_published: bool = False,
    ) -> None:
        client = _default_client()
        if model_id:
            data = client.get_model(model_id)
        elif name or project or tags:
            found = _query(client, project, name, tags, only_published, limit=1)
            if not found:
                raise NotFound(
                    f"no model named {name!r} in project {project!r} with tags {tags or []}"
                )
            data = found[0]
        else:
            raise InvalidInput("give model_id, or a name, project or tags to find the model")
        super().__init__(data, client)

    @classmethod
    def query_models(
        cls,
        project_name: str | None = None,
        model_name: str | None = None,
        tags: list[str] | None = None,
        only_published: bool = False,
        max_results: int | None = None,
    ) -> list[Model]:
        """Models newest first, by project (and its sub-projects), exact name, tags (all of
        them) and published state."""
        client = _default_client()
        rows = _query(client, project_name, model_name, tags, only_published, max_results)
        return [Model(row, client) for row in rows]

    def _swap_to(self, model_id: str) -> None:
        """Become another model (the one an edited draft names instead of the code's)."""
        self._data = self._client.get_model(model_id)


class OutputModel(Model, ModelReporting):
    """A model this run produces. Registered at once; ``update_weights`` uploads the file to
    the task's output destination in the background and records its uri, size and sha256,
    or registers a file already in storage (``register_uri``). ``report_scalar``,
    ``report_single_value``, ``report_table`` and ``report_line_plot`` store metrics on the
    model itself (``tunelab.sdk.model_reports``)."""

    def __init__(
        self,
        task: Any = None,
        name: str | None = None,
        framework: str | None = None,
        config_dict: Mapping[str, Any] | None = None,
        config_text: str | None = None,
        label_enumeration: Mapping[str, int] | None = None,
        tags: list[str] | None = None,
        comment: str | None = None,
    ) -> None:
        if task is None:
            from tunelab.sdk.task import Task

            task = Task.current_task()
        if task is None:
            raise InvalidInput("an OutputModel belongs to a task: call Task.init first")
        if not hasattr(task._client, "create_model"):
            raise InvalidInput(
                "models are registered on the server: an offline session records artifacts "
                "but not models"
            )
        if config_dict is not None and config_text is not None:
            raise InvalidInput("give config_dict or config_text, not both")
        text = json.dumps(config_dict, indent=2, default=str) if config_dict else config_text
        body = {
            "name": name or task.name,
            "task_id": task.id,
            "framework": framework or "",
            "config_text": text or "",
            "labels": dict(label_enumeration or {}),
            "tags": list(tags or []),
            "comment": comment or "",
        }
        super().__init__(task._client.create_model(body), task._client)
        self._task = task
        self._init_reports()

    def update_weights(
        self,
        weights_filename: str | Path | None = None,
        auto_delete_file: bool = False,
        async_enable: bool = True,
        register_uri: str | None = None,
    ) -> str:
        """Upload ``weights_filename`` to the task's output destination and register it;
        returns the uri it goes to. ``async_enable=False`` waits for the upload.

        ``register_uri`` instead registers a file already in storage, without uploading it:
        ``s3://bucket/run/model.pt``, ``tunelab://key`` (the server's store) or
        ``file:///path`` (a local path is taken as one). The server checks that you may
        reference that location (an object store it was configured for, a key of a project
        you may read) and that a file is there; it refuses with the reason otherwise.
        """
        if register_uri is not None:
            if weights_filename is not None:
                raise InvalidInput("give weights_filename or register_uri, not both")
            return self._register_uri(register_uri)
        if weights_filename is None:
            raise InvalidInput("give weights_filename (a file to upload) or register_uri")
        path = Path(weights_filename)
        if not path.is_file():
            raise InvalidInput(f"no weights file at {str(path)!r}")
        uri: str = self._task._upload_model_file(self, path, delete_after=auto_delete_file)
        if not async_enable:
            self.wait_for_upload()
        return uri

    def _register_uri(self, uri: str) -> str:
        fields: dict[str, Any] = {}
        if "://" not in uri:
            uri = Path(uri).absolute().as_uri()
        if uri.lower().startswith("file://"):
            # A file on this machine: the server cannot look at it, so its size and sha256
            # are measured here.
            from tunelab.storage import file_sha256, parse_destination

            local = Path(parse_destination(uri).path)
            if not local.is_file():
                raise InvalidInput(f"no weights file at {uri!r}")
            fields["size"], fields["sha256"] = file_sha256(local)
        # Pending reports and uploads first: a registration is the model's latest file.
        self._task.flush()
        self._data = self._client.register_model_weights(self.id, uri=uri, **fields)
        return self.url

    def update_design(
        self, config_text: str | None = None, config_dict: Mapping[str, Any] | None = None
    ) -> None:
        text = json.dumps(config_dict, indent=2, default=str) if config_dict else config_text
        self._data = self._client.update_model(self.id, config_text=text or "")

    def update_labels(self, labels: Mapping[str, int]) -> None:
        self._data = self._client.update_model(self.id, labels=dict(labels))

    def wait_for_upload(self, timeout: float | None = None) -> bool:
        """Block until the weights are uploaded and registered."""
        done = bool(self._task._uploads_wait(timeout))
        self._refresh()
        return done

    def publish(self) -> None:
        """Mark the model published (read-only); waits for a pending upload first."""
        self.wait_for_upload()
        self._data = self._client.publish_model(self.id)


def _query(
    client: Any,
    project: str | None,
    name: str | None,
    tags: list[str] | None,
    only_published: bool,
    limit: int | None,
) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"order_by": "-created"}
    if project:
        query["project"] = project
    if name:
        query["name"] = name
    if tags:
        query["tag"] = list(tags)
    if only_published:
        query["published"] = True
    return all_items(client.list_models, limit, **query)


def _default_client() -> Any:
    from tunelab.sdk.task_lifecycle import shared_client

    config = load_config()
    return shared_client(config.api_url, config.api_token)
