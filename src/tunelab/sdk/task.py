"""``Task``: the one object a training script talks to.

Example::

    from tunelab import Task

    task = Task.init(project_name="vision/resnet", task_name="baseline")
    params = task.connect({"epochs": 10, "opt": {"lr": 0.1}})
    logger = task.get_logger()
    for epoch in range(params["epochs"]):
        logger.report_scalar("loss", "train", value=1 / (epoch + 1), iteration=epoch)

The run is recorded from ``Task.init`` on: source code, packages, argparse/click arguments,
environment variables named in the config, console output; it ends ``completed``,
``failed`` or ``stopped`` on its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

from tunelab.domain.task import SECTION_ENVIRONMENT, SECTION_GENERAL, TaskStatus, TaskType
from tunelab.errors import InvalidInput, NotFound, TunelabError
from tunelab.sdk import (
    input_fitting,
    remote,
    resource_monitor,
    secrets,
    task_queries,
    task_start,
)
from tunelab.sdk import parameters as P
from tunelab.sdk.capture import frameworks, hydra_config, matplotlib_show, training_run
from tunelab.sdk.capture_warnings import guarded
from tunelab.sdk.clearml_names import ClearMLNames, TaskTypes
from tunelab.sdk.config import SdkConfig, load_config
from tunelab.sdk.logger import Logger
from tunelab.sdk.models import InputModel
from tunelab.sdk.run_session import RunSession
from tunelab.sdk.task_configuration import TaskConfiguration
from tunelab.sdk.task_lifecycle import TaskLifecycle, shared_client
from tunelab.sdk.task_outputs import SERVER_STORE, TaskOutputs
from tunelab.sdk.task_parameters import parameter_bodies
from tunelab.sdk.task_record import TaskRecord, cast_value
from tunelab.sdk.transport import ApiClient


class Task(TaskLifecycle, TaskOutputs, TaskRecord, TaskConfiguration, metaclass=ClearMLNames):
    TaskTypes: ClassVar[type[TaskTypes]] = TaskTypes
    _current: ClassVar[Task | None] = None
    _offline_override: ClassVar[bool | None] = None

    def __init__(
        self, client: Any, data: dict[str, Any], session: RunSession | None = None
    ) -> None:
        super().__init__(client, data, session)
        self._init_outputs()
        self._logger: Logger | None = None
        self._connected: list[tuple[str, Any, dict[str, Any]]] = []

    # ----- starting and finding tasks -------------------------------------------------

    @classmethod
    def init(
        cls,
        project_name: str | None = None,
        task_name: str | None = None,
        task_type: str | TaskType = TaskType.TRAINING,
        tags: list[str] | None = None,
        output_uri: str | bool | None = None,
        auto_connect_arg_parser: bool = True,
        auto_connect_streams: bool = True,
        auto_connect_frameworks: bool | Mapping[str, Any] = True,
        reuse_last_task_id: bool | str = True,
        auto_resource_monitoring: bool | Mapping[str, Any] = True,
    ) -> Task:
        """Create the task for this run (status ``running``) and start recording.

        ``output_uri``: where artifacts and models go (``True``: the server's file store).
        ``auto_connect_frameworks``: files saved with ``joblib.dump`` or ``torch.save``
        (or by XGBoost, LightGBM, Keras) become the task's output models, XGBoost's and
        LightGBM's evaluations at each round and Keras's metrics at each epoch its scalars
        (``{"xgboost": False}``, ``"lightgbm"``, ``"tensorflow"``, ``"scikit"``, ``"pytorch"``
        switch one off, see ``tunelab.sdk.capture.training_run``), and figures shown with
        matplotlib (``plt.show()``) its plots (a dict switches some off: ``{"matplotlib":
        False}``), and what TensorBoard writers write its scalars, plots, debug samples and
        ``TB_hparams``
        (``{"tensorboard": {"report_hparams": False}}``: all but the hyperparameters).
        ``reuse_last_task_id``: this script's last task of the same project, name and type
        is run again when it recorded no outputs (False: a new task each time; a task id:
        that task, under the same rule).
        ``auto_resource_monitoring``: record the machine's CPU, memory, disk, network and
        GPUs as ``:monitor:`` scalars (False: not; a dict: ``sample_frequency_per_sec``,
        ``report_frequency_sec``... see ``tunelab.sdk.resource_monitor``).

        Called again in the same process, returns the task already started. What Tunelab
        fails to capture (arguments, console, models, source code) never stops the script:
        it is printed once as ``tunelab: could not capture …`` and listed in the task's
        ``capture_warnings``. If starting the run itself fails after the task was created,
        the task ends ``failed`` with the error, which is raised again.
        """
        if cls._current is not None:
            return cls._current
        config = load_config()
        monitoring = resource_monitor.monitor_settings(auto_resource_monitoring)
        remote_id = remote.remote_task_id()
        if remote_id:
            client, data, session = task_start.attach(
                config, remote_id, capture_console=auto_connect_streams
            )
        else:
            offline = config.offline if cls._offline_override is None else cls._offline_override
            kind = TaskType(task_type).value
            client, data, session = task_start.start(
                config,
                offline=offline,
                project=project_name or "Default",
                name=task_name or task_start.default_task_name(),
                task_type=kind,
                tags=list(tags or []),
                output_uri=_destination(output_uri),
                capture_console=auto_connect_streams,
                # A multirun's later jobs are tasks of their own, never the last job's.
                reuse=False if hydra_config.ended_job_task() else reuse_last_task_id,
            )
        try:
            task = cls(client, data, session)
            task._remote = remote_id is not None
            session.before_close.append(task._sync_connected)
            cls._current = task
            task_start.connect_capture_warnings(session)
            if auto_connect_frameworks:
                with guarded(hydra_config.WHAT):
                    hydra_config.task_started(task)
            if auto_connect_arg_parser:
                task_start.connect_arguments(session, data)
            matplotlib_show.stop()  # a run before this one in the process captured figures
            if frameworks.enabled(auto_connect_frameworks, "matplotlib"):
                with guarded(matplotlib_show.WHAT):
                    matplotlib_show.capture(session.reporter.add_plot)
                session.before_close.append(matplotlib_show.stop)
            if frameworks.enabled(auto_connect_frameworks, "tensorboard"):
                from tunelab.integrations import tensorboard

                with guarded(tensorboard.WHAT):
                    session.before_close.append(tensorboard.start(task, auto_connect_frameworks))
            if auto_connect_frameworks and isinstance(client, ApiClient):
                # Offline sessions record artifacts, not models (a model needs the server's id).
                from tunelab.sdk.model_capture import install_model_capture

                savers = training_run.model_savers(auto_connect_frameworks)
                session.before_close.append(install_model_capture(task._capture_model_file, savers))
            if auto_connect_frameworks:
                with guarded(training_run.WHAT):
                    models = task._capture_model_file if isinstance(client, ApiClient) else None
                    run = training_run.Run(
                        task.get_logger().report_scalar, models, auto_connect_frameworks
                    )
                    session.before_close.append(training_run.start(run))
            if isinstance(client, ApiClient):
                task_start.announce(data, config.web_app_url)
            session.start()
            if remote_id is None:
                task_start.capture_source_later(session, data)
            if isinstance(client, ApiClient) and not remote.under_agent():
                session.watch_stop_requests()
            if monitoring is not None:
                with guarded(resource_monitor.WHAT):
                    resource_monitor.start_monitor(session, monitoring)
        except BaseException as exc:
            # The task exists and nobody else will end it: a run that never started must
            # not stay running.
            cls._current = None
            matplotlib_show.stop()
            if auto_connect_frameworks:
                from tunelab.sdk.model_capture import uninstall_model_capture

                uninstall_model_capture()  # a partial install included
                training_run.stop()
            session.abandon(exc)
            raise
        return task

    @classmethod
    def current_task(cls) -> Task | None:
        """The task this process started with ``Task.init``, if any."""
        return cls._current

    @classmethod
    def add_requirements(cls, package_name: str, package_version: str | None = None) -> None:
        """Record a package in the task's requirements, before ``Task.init``, whatever the
        code's imports say: one it needs without importing it, or a pinned version::

            Task.add_requirements("tensorflow", "2.4.0")    # tensorflow==2.4.0
            Task.add_requirements("tensorflow", ">=2.4")    # tensorflow>=2.4
            Task.add_requirements("tensorflow")             # the installed version
            Task.add_requirements("tensorflow", "")         # any version
            Task.add_requirements("requirements.txt")       # every package it lists
        """
        from tunelab.sdk.capture import packages

        packages.add_requirements(package_name, package_version)

    @classmethod
    def force_requirements_env_freeze(
        cls, force: bool = True, requirements_file: str | Path | None = None
    ) -> None:
        """Before ``Task.init``: record every package of this environment (as ``pip
        freeze``), or the file ``requirements_file`` as it is, instead of the packages the
        code imports."""
        from tunelab.sdk.capture import packages

        packages.force_requirements_env_freeze(force, requirements_file)

    @classmethod
    def set_offline(cls, offline_mode: bool = False) -> None:
        """Record the next ``Task.init`` into a local folder instead of sending it."""
        cls._offline_override = bool(offline_mode)

    @classmethod
    def is_offline(cls) -> bool:
        if cls._offline_override is not None:
            return cls._offline_override
        return load_config().offline

    @classmethod
    def get_task(
        cls,
        task_id: str | None = None,
        project_name: str | None = None,
        task_name: str | None = None,
        tags: list[str] | None = None,
        allow_archived: bool = True,
        task_filter: Mapping[str, Any] | None = None,
    ) -> Task:
        """A task by id, or the newest task with this name in the project (not its
        sub-projects); ``tags`` and ``task_filter`` narrow it as for ``get_tasks``."""
        client = _client(load_config())
        if task_id:
            return cls(client, client.get_task(task_id))
        if not (project_name or task_name or tags or task_filter):
            raise InvalidInput("give task_id, or a project_name, task_name, tags or task_filter")
        search = task_queries.task_search(
            project_name, task_name, tags, allow_archived, task_filter
        )
        search.query["include_subprojects"] = False
        found = task_queries.find_tasks(client, search, limit=1)
        if not found:
            where = f" in project {project_name!r}" if project_name else ""
            raise NotFound(f"no task{f' named {task_name!r}' if task_name else ''}{where}")
        return cls(client, client.get_task(found[0]["id"]))

    @classmethod
    def get_tasks(
        cls,
        project_name: str | None = None,
        task_name: str | None = None,
        tags: list[str] | None = None,
        allow_archived: bool = True,
        task_filter: Mapping[str, Any] | None = None,
    ) -> list[Task]:
        """Tasks in a project (and its sub-projects), newest first, optionally by name/tags.

        ``tags``: tasks with any of them (``"__$all"`` first: all of them; ``"-tag"``: not
        that tag). ``task_filter``: ClearML's keys ``status``, ``type``, ``tags``,
        ``system_tags``, ``order_by``, ``search_text``, ``page_size``, ``page``.
        """
        client = _client(load_config())
        search = task_queries.task_search(
            project_name, task_name, tags, allow_archived, task_filter
        )
        return [
            cls(client, client.get_task(item["id"]))
            for item in task_queries.find_tasks(client, search)
        ]

    @classmethod
    def query_tasks(
        cls,
        project_name: str | None = None,
        task_name: str | None = None,
        tags: list[str] | None = None,
        additional_return_fields: Sequence[str] | None = None,
        task_filter: Mapping[str, Any] | None = None,
    ) -> list[Any]:
        """ClearML's ``Task.query_tasks``: the ids of the tasks ``get_tasks`` finds, without
        loading each; with ``additional_return_fields``, a dict per task of ``id`` and those
        fields of its listing entry (``name``, ``status``, ``tags``, ``last_update``...)."""
        client = _client(load_config())
        search = task_queries.task_search(project_name, task_name, tags, True, task_filter)
        found = task_queries.find_tasks(client, search)
        if not additional_return_fields:
            return [str(item["id"]) for item in found]
        fields = list(additional_return_fields)
        return [{"id": item["id"], **{f: item.get(f) for f in fields}} for item in found]

    @classmethod
    def get_projects(cls) -> list[SimpleNamespace]:
        """ClearML's ``Task.get_projects``: every project this account may see, by name,
        each with its listing's fields as attributes (``id``, ``name``, ``description``,
        ``created``, ``last_update``, task counts)."""
        items = _client(load_config()).list_projects()["items"]
        return [SimpleNamespace(**item) for item in items]

    @classmethod
    def get_project_id(cls, project_name: str, search_hidden: bool = True) -> str | None:
        """ClearML's ``Task.get_project_id``: the id of the project named ``project_name``
        (a sub-project by its path, ``"team/vision"``), None when there is none. Tunelab
        hides no project, so ``search_hidden`` changes nothing."""
        items = _client(load_config()).list_projects()["items"]
        return next((str(p["id"]) for p in items if p["name"] == project_name), None)

    # ----- identity -----------------------------------------------------------------------

    @property
    def name(self) -> str:
        return str(self._data["name"])

    @property
    def project(self) -> str:
        return str(self._data["project"]["name"])

    @property
    def status(self) -> str:
        """The task's status as the server has it now."""
        if self._is_local_only():
            return str(self._data["status"])
        self._data["status"] = self._client.get_task(self.id)["status"]
        return str(self._data["status"])

    def __repr__(self) -> str:
        return f"<Task {self.id} {self.name!r}>"

    # ----- hyperparameters ----------------------------------------------------------------

    def connect(self, mutable: Any, name: str | None = None) -> Any:
        """Record a dict's (or a plain object's) values as hyperparameters in section ``name``;
        an ``InputModel`` becomes the task's input model.

        Nested dicts flatten with ``/``; each value keeps its type. Later changes to a
        connected dict are sent too. Returns the same object.
        """
        if isinstance(mutable, InputModel):
            return self._connect_input_model(mutable)
        section = name or SECTION_GENERAL
        if self._remote:
            stored = self._data.get("hyperparameters", {}).get(section, {})
            with hydra_config.writable(mutable):  # a struct DictConfig may gain keys
                only_in_code = remote.inject(mutable, stored)
            values = P.flatten(_current_values(mutable))
            bodies = parameter_bodies(mutable, values)
            new = {key: bodies[key] for key in only_in_code if key in bodies}
            if new:
                self._write_params({section: new}, replace=False)
        else:
            values = P.flatten(_current_values(mutable))
            self._write_params({section: parameter_bodies(mutable, values)}, replace=False)
        self._connected.append((section, mutable, values))
        if self._session is not None:
            self._session.watch(self._sync_connected)
        return mutable

    def _sync_connected(self) -> None:
        for index, (section, obj, before) in enumerate(self._connected):
            now = P.flatten(_current_values(obj))
            if now != before:
                changed = {
                    k: P.param_body(v) for k, v in now.items() if before.get(k, _MISSING) != v
                }
                self._write_params({section: changed}, replace=False)
                self._connected[index] = (section, obj, now)

    def set_parameters(self, *args: Mapping[str, Any], **kwargs: Any) -> None:
        """Replace all hyperparameters: ``set_parameters({"Args/lr": 0.1}, batch=32)``."""
        self._write_params(P.group_by_section(_merge_args(args, kwargs)), replace=True)

    def set_parameters_as_dict(self, dictionary: Mapping[str, Any]) -> None:
        """Merge hyperparameters given as ``{"Args": {"lr": 0.1}}`` or ``{"Args/lr": 0.1}``."""
        self._write_params(P.group_by_section(dictionary), replace=False)

    def get_parameters(self, cast: bool = False) -> dict[str, Any]:
        """Every hyperparameter as ``{"Section/name": "value"}``; with ``cast``, each value
        as the type it was recorded with."""
        return {
            f"{section}/{key}": cast_value(body) if cast else body["value"]
            for section, params in self._inputs("hyperparameters").items()
            for key, body in params.items()
        }

    def get_parameters_as_dict(self) -> dict[str, dict[str, str]]:
        """Hyperparameters as ``{"Section": {"name": "value"}}``."""
        return {
            section: {key: body["value"] for key, body in params.items()}
            for section, params in self._inputs("hyperparameters").items()
        }

    def _write_params(self, sections: dict[str, dict[str, P.ParamBody]], *, replace: bool) -> None:
        current = self._data.setdefault("hyperparameters", {})
        if replace:
            current.clear()
        for section, params in sections.items():
            current.setdefault(section, {}).update(params)
        self._write("set_hyperparameters", sections, replace=replace)

    # ----- user properties ----------------------------------------------------------------

    def set_user_properties(self, *iterables: Mapping[str, Any], **properties: Any) -> None:
        """Set descriptive key/value properties (editable in any status but published)."""
        merged = _merge_args(iterables, properties)
        bodies = {key: P._as_body(value) for key, value in merged.items()}
        self._data.setdefault("user_properties", {}).update(bodies)
        self._write("set_user_properties", bodies, replace=False)

    def get_user_properties(self, value_only: bool = False) -> dict[str, Any]:
        props = self._inputs("user_properties")
        if value_only:
            return {key: body["value"] for key, body in props.items()}
        return {key: {"name": key, **body} for key, body in props.items()}

    # ----- the whole record ---------------------------------------------------------------

    def export_task(self) -> dict[str, Any]:
        """The task's whole record as a dict (execution, parameters, capture warnings, ...),
        without secrets: secret-named ``Environment`` values and, anywhere in it, the
        Tunelab token and secret variables' values read ``********``."""
        if not self._is_local_only():
            self.flush()
            self._data = self._client.get_task(self.id)
        elif self._session is not None:  # offline: the warnings are queued like the rest
            self.flush()
            local = self._client.get_task(self.id)
            self._data["capture_warnings"] = local.get("capture_warnings", [])
        return _without_secrets(json.loads(json.dumps(self._data)))

    # ----- outputs ------------------------------------------------------------------------

    def get_logger(self) -> Logger:
        if self._session is None:
            raise InvalidInput("only the task started by Task.init in this process can report")
        if self._logger is None:
            reporter = self._session.reporter
            self._logger = Logger(
                reporter.add_scalar,
                self._session.console.masked_sink,  # report_text masks as printing does
                lambda: self._session.console.original_stdout,  # type: ignore[union-attr]
                reporter.add_plot,
                debug_samples=self._debug_sample_reporter,
            )
        return self._logger

    def flush(self, wait_for_uploads: bool = True) -> bool:
        """Send everything reported so far (and, with ``wait_for_uploads``, finish the
        artifact and model uploads); returns True when all of it arrived."""
        if wait_for_uploads:
            self._uploads_wait()
        if self._session is None:
            return True
        self._sync_connected()
        return bool(self._session.reporter.flush(timeout=None if wait_for_uploads else 0))

    def close(self) -> None:
        """End the run now (``completed``), as if the script had exited."""
        if self._session is not None:
            self._session.exit.finish()
            if Task._current is self:
                Task._current = None

    def mark_failed(self, status_reason: str = "") -> None:
        if self._session is not None:
            self._session.exit.mark(TaskStatus.FAILED, status_reason)

    def get_reported_scalars(
        self, max_samples: int = 0
    ) -> dict[str, dict[str, dict[str, list[Any]]]]:
        """``{title: {series: {"x": [...], "y": [...]}}}`` at full resolution by default."""
        self._require_server("read reported scalars")
        self.flush()
        data = self._client.get_scalars(self.id, max_points=max_samples)
        return {
            title: {series: {"x": s["x"], "y": s["y"]} for series, s in variants.items()}
            for title, variants in data["metrics"].items()
        }

    def get_last_scalar_metrics(self) -> dict[str, dict[str, dict[str, float]]]:
        """``{title: {series: {"last", "min", "max"}}}`` from the server's summary."""
        self._require_server("read scalar metrics")
        self.flush()
        data = self._client.get_metrics(self.id)
        return {
            title: {s: {k: v[k] for k in ("last", "min", "max")} for s, v in variants.items()}
            for title, variants in data["metrics"].items()
        }

    def get_console_output(self) -> str:
        """Everything the run printed, as one text."""
        self._require_server("read the console")
        self.flush()
        lines: list[str] = []
        after = 0
        while True:
            page = self._client.get_console(self.id, after=after, limit=5000)
            lines.extend(line["text"] for line in page["lines"])
            if not page["lines"]:
                return "\n".join(lines)
            after = page["next"]

    # ----- plumbing -----------------------------------------------------------------------

    def _write(self, method: str, payload: Any, *, replace: bool) -> None:
        if self._session is not None:
            self._session.call(method, self.id, payload, replace=replace)  # fits it too
        else:
            getattr(self._client, method)(
                self.id, input_fitting.fitted(method, payload), replace=replace
            )

    def _inputs(self, field: str) -> dict[str, Any]:
        if self._session is None and not self._is_local_only():
            self._data = self._client.get_task(self.id)
        value: dict[str, Any] = self._data.get(field) or {}
        return value

    def _is_local_only(self) -> bool:
        return not isinstance(self._client, ApiClient)

    def _require_server(self, what: str) -> None:
        if self._is_local_only():
            raise TunelabError(f"cannot {what} of an offline task; sync it first")


_MISSING = object()


def _without_secrets(record: dict[str, Any]) -> dict[str, Any]:
    # A record written by an older SDK, or through the API, may hold an unmasked secret.
    env = (record.get("hyperparameters") or {}).get(SECTION_ENVIRONMENT) or {}
    for name, body in env.items():
        if isinstance(body, dict) and secrets.is_secret_name(name):
            body["value"] = secrets.MASK
    masked: dict[str, Any] = secrets.environment_masker().mask_data(record)
    return masked


def _current_values(obj: Any) -> dict[str, Any]:
    if hydra_config.is_omegaconf(obj):
        values = hydra_config.plain_values(obj)  # plain values, interpolations resolved
        if isinstance(values, dict):
            return values
    if isinstance(obj, Mapping):
        return dict(obj)
    return P.object_fields(obj)


def _merge_args(args: tuple[Mapping[str, Any], ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for item in args:
        merged.update(dict(item))
    merged.update(kwargs)
    return merged


def _destination(output_uri: str | bool | None) -> str:
    if output_uri is True:
        return SERVER_STORE
    return output_uri or ""


def _client(config: SdkConfig) -> ApiClient:
    return shared_client(config.api_url, config.api_token)
