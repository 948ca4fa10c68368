"""What a task stores besides scalars and console: artifacts, output models (explicit and
saved by ``joblib.dump`` / ``torch.save``) and its input model. Mixed into ``Task``.

Files go to the task's output destination: its ``output_uri``, else the config's
``default_output_uri``, else the server's own file store (``tunelab://``). The object is
serialized when ``upload_artifact`` is called (later changes to it are not recorded); the
upload and the registration run on a background thread.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunelab.domain import artifact_names
from tunelab.errors import InvalidInput
from tunelab.sdk.artifacts import Artifact
from tunelab.sdk.config import SdkConfig, load_config
from tunelab.sdk.models import InputModel, Model, OutputModel
from tunelab.sdk.run_session import RunSession
from tunelab.sdk.upload_failures import FailedUploads, UploadTarget
from tunelab.sdk.uploads import Progress, Uploads

if TYPE_CHECKING:
    from tunelab.sdk.debug_samples import DebugSamples
    from tunelab.sdk.registered_artifacts import RegisteredArtifacts

SERVER_STORE = "tunelab://"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class TaskOutputs:
    _client: Any
    _data: dict[str, Any]
    _session: RunSession | None
    _remote: bool
    if TYPE_CHECKING:  # Task's properties

        @property
        def id(self) -> str: ...
        @property
        def name(self) -> str: ...

    def _init_outputs(self) -> None:
        self._upload_queue: Uploads | None = None
        self._storage: Any = None  # the StorageContext, built on first use
        self._scratch: Path | None = None
        self._captured_models: dict[Path, str] = {}  # saved file -> its model's id
        self._config: SdkConfig | None = None
        self._failures: FailedUploads | None = None
        self._debug_samples: DebugSamples | None = None
        self._registered: RegisteredArtifacts | None = None
        self._flush_hooks: list[Callable[[], None]] = []  # output models' kept reports

    # ----- artifacts ----------------------------------------------------------------------

    def upload_artifact(
        self,
        name: str,
        artifact_object: Any,
        metadata: dict[str, Any] | None = None,
        wait_on_upload: bool = False,
    ) -> bool:
        """Store ``artifact_object`` as artifact ``name`` (the same name replaces it).

        A dict or list is stored as JSON, a DataFrame as parquet (csv.gz without pyarrow),
        a numpy array as .npz, a PIL image as .png, a file path as the file, a folder
        zipped, a wildcard (``"images/*.jpg"``) as a zip of the matching files under its
        folder, anything else pickled. Returns once the object is serialized; the upload
        runs in the background unless ``wait_on_upload``.
        """
        _check_artifact_name(name)
        extra = _check_metadata(name, metadata)
        if self._registered is not None and name in self._registered:
            raise InvalidInput(
                f"artifact {name!r} is registered (kept in sync with its DataFrame): "
                "call unregister_artifact first to upload something else under its name"
            )
        self._upload_object(name, artifact_object, extra)
        if wait_on_upload:
            self._uploads().wait()
        return True

    def register_artifact(
        self,
        name: str,
        artifact: Any,
        metadata: dict[str, Any] | None = None,
        uniqueness_columns: bool | Sequence[str] = True,
    ) -> None:
        """Keep the DataFrame ``artifact`` in sync as artifact ``name``: uploaded now, on
        ``task.flush()``, every 5 minutes and at the end of the run, each time it changed
        (replacing the artifact with its latest content). ``uniqueness_columns`` (True: all)
        count its unique rows, shown in the artifact's metadata with its row count."""
        _check_artifact_name(name)
        extra = _check_metadata(name, metadata)
        if self._registered is None:
            from tunelab.sdk.registered_artifacts import RegisteredArtifacts

            self._registered = RegisteredArtifacts(self._upload_object)
        self._registered.register(name, artifact, extra, uniqueness_columns)

    def unregister_artifact(self, name: str) -> None:
        """Stop keeping ``name`` in sync (its latest content is uploaded first; the artifact
        stays on the task)."""
        if self._registered is not None:
            self._registered.unregister(name)

    def _upload_object(self, name: str, artifact_object: Any, extra: dict[str, Any]) -> None:
        """Serialize ``artifact_object`` now and upload it in the background as ``name``."""
        from tunelab.sdk import artifact_formats

        packed = artifact_formats.pack(artifact_object, self._scratch_dir(), name)
        owned = packed.type != "file"  # our serialization, removed once uploaded
        uri = self._destination_uri("artifacts", _safe(name), packed.path.name)
        described = {
            "type": packed.type,
            "format": packed.format,
            "preview": packed.preview,
            "metadata": {**packed.metadata, **extra},
        }
        target = UploadTarget("artifact", name, uri, described)

        def store(path: Path) -> None:
            from tunelab.storage import upload

            stored = upload(
                path,
                uri,
                self._storage_context(),
                progress=Progress("uploading", f"artifact {name!r}"),
            )
            body = {
                **described,
                "uri": stored.uri,
                "size": stored.size,
                "sha256": stored.sha256,
            }
            self._send("put_artifact", self.id, name, body)
            self._data.setdefault("artifacts", {})[name] = {"name": name, **body}
            if owned:
                path.unlink(missing_ok=True)
            self._failed_uploads().stored(target)

        self._prepare(uri)
        self._submit_upload(
            target, packed.path, owned, store, f"artifact {name!r}", ("artifact", name)
        )

    @property
    def artifacts(self) -> dict[str, Artifact]:
        """``{name: Artifact}``: ``task.artifacts["features"].get()``."""
        if self._session is None and self._is_on_server():
            self._data = self._client.get_task(self.id)
        stored = self._data.get("artifacts") or {}
        return {name: Artifact(body, self._storage_context) for name, body in stored.items()}

    def _require_packages(self, modules: set[str]) -> None:
        """Record the installed packages providing ``modules`` in this run's requirements
        (reading a fetched artifact needed them), so a re-run's environment has them."""
        from tunelab.sdk.capture.packages import (
            REQUIREMENTS_LOCK,
            merge_requirements,
            requirements_for_modules,
        )

        if self._session is None or not modules:
            return
        lines = requirements_for_modules(modules)
        with REQUIREMENTS_LOCK:
            execution = self._data.setdefault("execution", {})
            current = str(execution.get("requirements") or "")
            merged = merge_requirements(current, lines)
            if merged != current:
                execution["requirements"] = merged
                self._session.call("update_task", self.id, execution={"requirements": merged})

    # ----- models -------------------------------------------------------------------------

    @property
    def models(self) -> dict[str, list[Model]]:
        """``{"input": [the input model], "output": [models this task created]}``."""
        self.flush()
        data = self._client.get_task(self.id)
        found = [data.get("input_model")] if data.get("input_model") else []
        return {
            "input": [Model(self._client.get_model(m["id"]), self._client) for m in found],
            "output": [
                Model(self._client.get_model(m["id"]), self._client)
                for m in data.get("output_models") or []
            ],
        }

    def _connect_input_model(self, model: InputModel) -> InputModel:
        """Record ``model`` as this task's input; under an agent, the model chosen on the
        draft replaces the one the code names."""
        chosen = self._data.get("input_model") if self._remote else None
        if chosen and chosen["id"] != model.id:
            model._swap_to(chosen["id"])
        if not chosen:
            self._send("set_input_model", self.id, model.id)
            self._data["input_model"] = {"id": model.id, "name": model.name}
        return model

    def _upload_model_file(self, model: OutputModel, path: Path, *, delete_after: bool) -> str:
        """Upload a weights file for ``model`` in the background; returns its future uri."""
        uri = self._destination_uri("models", _safe(model.name), path.name)
        target = UploadTarget("model", model.name, uri, {"model_id": model.id})

        def store(file: Path) -> None:
            from tunelab.storage import upload

            progress = Progress("uploading", f"model {model.name!r}")
            stored = upload(file, uri, self._storage_context(), progress=progress)
            self._client.update_model(
                model.id, uri=stored.uri, size=stored.size, sha256=stored.sha256
            )
            if delete_after:
                file.unlink(missing_ok=True)
            self._failed_uploads().stored(target)

        self._prepare(uri)
        self._submit_upload(
            target, path, delete_after, store, f"model {model.name!r}", ("model", model.id)
        )
        return uri

    def _capture_model_file(self, path: Path, framework: str) -> None:
        """A file saved by joblib.dump / torch.save: an output model of this task, uploaded
        when the task has a destination of its own, else registered at its local path."""
        models = self._captured_models
        explicit = self._explicit_destination()
        uri = self._destination_uri("models", _safe(path.stem), path.name) if explicit else ""
        record: dict[str, Any] = {}
        target = UploadTarget("model", path.name, uri, record)

        def store(file: Path) -> None:
            model_id = models.get(path)
            if model_id is None:
                body = {"name": path.name, "task_id": self.id, "framework": framework}
                model_id = models[path] = self._client.create_model(body)["id"]
            record["model_id"] = model_id  # what a retry from the command line registers
            if explicit:
                from tunelab.storage import upload

                stored = upload(file, uri, self._storage_context())
                fields = {"uri": stored.uri, "size": stored.size, "sha256": stored.sha256}
            else:
                from tunelab.storage import file_sha256

                size, sha256 = file_sha256(file)
                fields = {"uri": file.as_uri(), "size": size, "sha256": sha256}
            self._client.update_model(model_id, **fields)
            self._failed_uploads().stored(target)

        if explicit:
            self._prepare(explicit)
        self._submit_upload(target, path, False, store, f"model file {path.name!r}", ("file", path))

    # ----- debug samples ------------------------------------------------------------------

    def _debug_sample_reporter(self) -> DebugSamples:
        """``report_image`` / ``report_media``: files sent like artifacts, on the same thread."""
        if self._debug_samples is None:
            from tunelab.sdk.debug_samples import DebugSamples

            history = self._sdk_config().file_history_size
            self._debug_samples = DebugSamples(self, history)
        return self._debug_samples

    # ----- plumbing -----------------------------------------------------------------------

    def _explicit_destination(self) -> str:
        execution = self._data.get("execution") or {}
        return str(execution.get("output_uri") or self._sdk_config().default_output_uri or "")

    def _destination_uri(self, kind: str, *parts: str) -> str:
        from tunelab.storage import join_uri

        project = "/".join(_safe(p) for p in self._project_name().split("/") if p)
        folder = f"{_safe(self.name)}.{self.id}"
        base = self._explicit_destination() or getattr(self._client, "files_uri", SERVER_STORE)
        return join_uri(base, project, folder, kind, *parts)

    def _project_name(self) -> str:
        return str((self._data.get("project") or {}).get("name") or "Default")

    def _prepare(self, uri: str) -> None:
        """Load the back end for ``uri`` on the caller's thread. An upload may still run
        while the interpreter shuts down (the script has ended), when Python refuses the
        imports that fsspec and its back ends need."""
        from tunelab.storage import filesystem

        with contextlib.suppress(Exception):  # the upload itself reports what is wrong
            filesystem(uri, self._storage_context())

    def _sdk_config(self) -> SdkConfig:
        """The run's own settings, or the config file's read once (every joblib.dump asks)."""
        if self._config is None:
            self._config = self._session.config if self._session else load_config()
        return self._config

    def _storage_context(self) -> Any:
        if self._storage is None:
            from tunelab.storage import StorageContext

            self._storage = StorageContext.from_config(self._sdk_config())
        return self._storage

    def _uploads(self) -> Uploads:
        if self._upload_queue is None:
            self._upload_queue = Uploads()
            self._upload_queue.finish_before_shutdown()
            if self._session is not None:
                # Every upload is registered before the run's final status is sent.
                self._session.before_close.insert(0, self._finish_uploads)
        return self._upload_queue

    def _on_flush(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` on ``task.flush()`` and at the end of the run (before its status)."""
        if not self._flush_hooks and self._session is not None:
            self._session.before_close.insert(0, self._run_flush_hooks)
        self._flush_hooks.append(hook)

    def _run_flush_hooks(self) -> None:
        from tunelab.sdk.capture_warnings import warn

        for hook in list(self._flush_hooks):
            try:
                hook()
            except Exception as exc:  # the run goes on; the console line says what was lost
                warn("model reports", exc)

    def _finish_uploads(self) -> None:
        self._uploads_wait()
        if self._registered is not None:
            self._registered.stop()
        self._remove_scratch()

    def _uploads_wait(self, timeout: float | None = None) -> bool:
        """Finish the uploads, trying the failed ones once more first (``task.flush()`` and
        the end of the run come here)."""
        if self._registered is not None:
            self._registered.sync()  # registered DataFrames' latest content first
        self._run_flush_hooks()
        if self._upload_queue is None:
            return True
        self._upload_queue.wait(timeout)
        if self._failures is not None and self._failures.retry_all():
            return self._upload_queue.wait(timeout)
        return True if timeout is None else not self._upload_queue.busy

    def _submit_upload(
        self,
        target: UploadTarget,
        path: Path,
        owned: bool,
        store: Callable[[Path], None],
        label: str,
        key: object,
    ) -> None:
        """Upload ``path`` in the background with ``store``; a failure is recorded on the
        task, and the file kept for a retry (``upload_failures``)."""

        def retry(kept: Path) -> None:
            self._submit_upload(target, kept, owned, store, label, key)

        self._uploads().submit(
            lambda: store(path),
            label=label,
            key=key,
            on_failure=lambda exc: self._failed_uploads().failed(target, path, owned, exc, retry),
        )

    def _failed_uploads(self) -> FailedUploads:
        if self._failures is None:
            self._failures = FailedUploads(self.id, self._send_if_recordable)
        return self._failures

    def _send_if_recordable(self, method: str, *args: Any) -> None:
        # Sent at once from the upload thread, which is the order that matters (a failure
        # before its retry's success). Offline sessions keep no such record: the console
        # line says it.
        if hasattr(self._client, method):
            getattr(self._client, method)(*args)

    def _scratch_dir(self) -> Path:
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="tunelab-artifacts-"))
        # One folder per upload: replacing an artifact never overwrites a file being sent.
        return Path(tempfile.mkdtemp(dir=self._scratch))

    def _remove_scratch(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def _send(self, method: str, *args: Any) -> None:
        """An API call in order with the run's other reports (queued, retried, spooled when
        the server is away), or at once for a task that is not this process's run."""
        if self._session is not None:
            self._session.call(method, *args)
        else:
            getattr(self._client, method)(*args)

    def _is_on_server(self) -> bool:
        from tunelab.sdk.transport import ApiClient

        return isinstance(self._client, ApiClient)

    if TYPE_CHECKING:

        def flush(self, wait_for_uploads: bool = True) -> bool: ...  # Task's


def _check_artifact_name(name: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("an artifact needs a name")
    artifact_names.check_name(name)  # the store's own rule: nothing uploaded it would refuse


def _check_metadata(name: str, metadata: Any) -> dict[str, Any]:
    import json

    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidInput(f"artifact {name!r}: metadata must be a dict")
    try:
        json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"artifact {name!r}: metadata must be JSON values ({exc})") from None
    return dict(metadata)


def _safe(part: str) -> str:
    """A path component every back end accepts ("my run #3" -> "my_run_3")."""
    cleaned = _UNSAFE.sub("_", part).strip("._")
    return cleaned or "_"
