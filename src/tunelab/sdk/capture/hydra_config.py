"""Hydra and OmegaConf: the composed configuration and the command line's overrides of a
``@hydra.main`` script, recorded and, under an agent, injected back.

Once ``hydra`` is imported (before or after Tunelab), each Hydra job records:

- its overrides (``training.lr=0.5 db=postgresql``) as the ``Hydra`` hyperparameters, one per
  key, plus ``Hydra/_allow_omegaconf_edit_`` (False);
- its composed configuration as the ``OmegaConf`` configuration object (YAML).

Under an agent the stored ``Hydra`` overrides are added to the command line, so the script's
``cfg`` holds the edited values with the types Hydra gives them; when
``Hydra/_allow_omegaconf_edit_`` is true, the stored ``OmegaConf`` object replaces the composed
configuration whole. In a multirun (``-m``) each job whose main function calls ``Task.init``
is a task of its own, ended with its job.

Hydra's own command line (``--multirun``, ``--cfg``, the overrides...) is not the script's
``Args``. Every hook runs inside ``guarded``: a failure here is a capture warning and the
script runs as it would without Tunelab.

OmegaConf objects given to ``Task.connect`` / ``connect_configuration`` are handled here too:
stored as plain values / YAML, and returned under an agent as the same kind of object.
"""

from __future__ import annotations

import copy
import functools
import inspect
import sys
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from tunelab.errors import InvalidInput
from tunelab.sdk import remote
from tunelab.sdk.capture.arguments import ignore_parsers_where
from tunelab.sdk.capture.import_hooks import when_imported
from tunelab.sdk.capture_warnings import guarded, warn
from tunelab.sdk.parameters import ParamBody, parse_bool

SECTION = "Hydra"
CONFIG_NAME = "OmegaConf"
CONFIG_TYPE = "OmegaConf YAML"
ALLOW_EDIT = "_allow_omegaconf_edit_"

ALLOW_EDIT_DESCRIPTION = (
    f"If True, a re-run ignores the other {SECTION} overrides and uses the "
    f"{CONFIG_NAME} configuration object as it is stored"
)
READ_ONLY_DESCRIPTION = (
    f"Full OmegaConf YAML configuration. Edits are used only when {SECTION}/{ALLOW_EDIT} is True"
)
EDITED_DESCRIPTION = f"Full OmegaConf YAML configuration, as edited ({SECTION}/{ALLOW_EDIT}=True)"
MULTIRUN_NOTE = (
    "tunelab: Task.init ran before this Hydra multirun: its task records the first job only. "
    "Call Task.init inside the @hydra.main function to record one task per job."
)
WHAT = "the Hydra configuration"


@dataclass
class _State:
    task: Any = None  # the run's Task, once Task.init ran
    overrides: dict[str, ParamBody] | None = None  # waiting for the task
    config: tuple[str, str] | None = None  # (YAML, description) waiting for the task
    allow_edit: bool = False  # under an agent: the stored OmegaConf object replaces cfg
    recording: bool = True  # False for the later jobs of a multirun sharing one task
    ended_job_task: bool = False  # a multirun job's task ended: later tasks are new ones
    jobs: int = 0
    told_multirun: bool = False


_state = _State()
_original: dict[str, Any] = {}


def install() -> None:
    """Patch Hydra as soon as it is imported (at once if it already is); its own argparse
    parser is left alone (its overrides go to ``Hydra``, not ``Args``)."""
    ignore_parsers_where(owns_parser)
    when_imported("hydra", patch_hydra)


def task_started(task: Any) -> None:
    """``Task.init`` ran: what the jobs recorded so far goes to ``task``."""
    _state.task = task
    _flush()


def ended_job_task() -> bool:
    """True once a multirun job's task ended: the next ``Task.init`` makes a new task."""
    return _state.ended_job_task


def original_cwd() -> Path | None:
    """Where the script was started, when a Hydra job runs (``hydra.job.chdir`` may have
    moved it into its output folder); None otherwise."""
    if "hydra" not in sys.modules:
        return None
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.cwd) if HydraConfig.initialized() else None
    except Exception:
        return None


def owns_parser(parser: Any) -> bool:
    """True for the argparse parser of ``@hydra.main`` itself (kept out of ``Args``)."""
    if "hydra" not in sys.modules:
        return False
    return any("--hydra-help" in action.option_strings for action in parser._actions)


# --- patching Hydra -------------------------------------------------------------------------


def patch_hydra(_module: ModuleType) -> None:
    # Hydra.run composes the configuration from the overrides; run_job runs one job (the
    # only one, or one of a multirun): the module-level names are rebound where imported.
    from hydra._internal import hydra as internal_hydra
    from hydra._internal.core_plugins import basic_launcher
    from hydra.core import utils as core_utils

    if _original:
        return
    _original["run"] = internal_hydra.Hydra.run
    _original["run_job"] = core_utils.run_job
    internal_hydra.Hydra.run = _patched_run  # type: ignore[method-assign]
    for module in (core_utils, internal_hydra, basic_launcher):
        module.run_job = _patched_run_job  # type: ignore[attr-defined]


def _patched_run(
    self: Any, config_name: str | None, task_function: Any, overrides: list[str], *args: Any,
    **kwargs: Any,
) -> Any:  # fmt: skip
    with guarded(WHAT):
        overrides = _remote_overrides(self, overrides)
    return _original["run"](self, config_name, task_function, overrides, *args, **kwargs)


def _patched_run_job(*args: Any, **kwargs: Any) -> Any:
    original = _original["run_job"]
    try:
        call = inspect.signature(original).bind(*args, **kwargs)
        config = call.arguments["config"]
    except (TypeError, KeyError) as exc:  # a run_job we do not know: run it untouched
        warn(WHAT, exc)
        return original(*args, **kwargs)
    hydra_context = call.arguments.get("hydra_context")
    before = _state.task
    with guarded(WHAT):
        _record_job(config, hydra_context)
    # The task function itself is left alone: Hydra prints a failed job's traceback from
    # the frame after run_job, which must stay the script's own.
    with guarded(WHAT):
        call.arguments["config"] = _job_config(config)
    result = original(*call.args, **call.kwargs)
    with guarded(WHAT):
        _end_job(config, result, before)
    return result


# --- the hooks ------------------------------------------------------------------------------


def _remote_overrides(hydra: Any, overrides: list[str]) -> list[str]:
    """Under an agent: the command line's overrides, then the stored ones (which win)."""
    if not remote.remote_task_id():
        return overrides
    section = remote.remote_task().get("hyperparameters", {}).get(SECTION, {})
    allow = section.get(ALLOW_EDIT)
    _state.allow_edit = parse_bool(allow["value"]) if allow else False
    stored = []
    for key, body in section.items():
        if key == ALLOW_EDIT:
            continue
        text = key if key.startswith("~") and not body["value"] else f"{key}={body['value']}"
        if not text.startswith(("~", "+")) and not _is_group(hydra.config_loader, text):
            text = f"++{text}"  # sets the key whether the composed config has it or not
        stored.append(text)
    replaced = {_key(text) for text in stored}
    return [text for text in overrides if _key(text) not in replaced] + stored


def _record_job(config: Any, hydra_context: Any) -> None:
    """Keep the job's overrides for its task (an agent's run has them stored already)."""
    if remote.remote_task_id():
        return
    multirun = _is_multirun(config)
    _state.recording = _state.task is None or not multirun or _state.jobs == 0
    _state.jobs += 1
    if not _state.recording:
        if not _state.told_multirun:
            _state.told_multirun = True
            print(MULTIRUN_NOTE, file=sys.stderr)
        return
    loader = getattr(hydra_context, "config_loader", None)
    bodies: dict[str, ParamBody] = {}
    for text in config.hydra.overrides.task:
        if not _is_group(loader, text):
            text = text.lstrip("+")  # re-applied as ++key=value, which adds or sets
        key, _, value = text.partition("=")
        bodies[key] = {"value": value, "type": _override_type(text), "description": ""}
    bodies[ALLOW_EDIT] = {"value": "False", "type": "bool", "description": ALLOW_EDIT_DESCRIPTION}
    _state.overrides = bodies
    _flush()


def _job_config(config: Any) -> Any:
    """The job's configuration (the script's ``cfg`` is it without its ``hydra`` node),
    recorded as the ``OmegaConf`` object; under an agent allowed to, the stored one."""
    if not _state.recording:
        return config
    from omegaconf import OmegaConf, open_dict, read_write

    cfg = _without_hydra(config)
    description = READ_ONLY_DESCRIPTION
    if remote.remote_task_id() and _state.allow_edit:
        stored = remote.remote_task().get("configuration", {}).get(CONFIG_NAME)
        if stored is not None:
            cfg = from_text(stored.get("text", ""), cfg)
            edited = OmegaConf.create(cfg)
            with read_write(edited), open_dict(edited):
                edited["hydra"] = config.hydra
            OmegaConf.set_struct(edited, OmegaConf.is_struct(config))
            config, description = edited, EDITED_DESCRIPTION
    _state.config = (OmegaConf.to_yaml(cfg, resolve=False), description)
    _flush()
    return config


def _end_job(config: Any, result: Any, before: Any) -> None:
    """A failed job fails its task with the job's error (Hydra only exits 1); a multirun job
    whose main function started a task ends that task (one task per job)."""
    _state.overrides = _state.config = None
    error = getattr(result, "_return_value", None)
    if _state.task is not None and str(getattr(result, "status", "")) == "JobStatus.FAILED":
        _state.task.mark_failed(f"{type(error).__name__}: {error}")
    if remote.remote_task_id() or not _is_multirun(config):
        return
    if _state.task is not None and _state.task is not before:
        task, _state.task = _state.task, None
        _state.ended_job_task = True
        task.close()


# --- helpers --------------------------------------------------------------------------------


def _flush() -> None:
    task = _state.task
    if task is None:
        return
    if _state.overrides is not None:
        overrides, _state.overrides = _state.overrides, None
        task._write_params({SECTION: overrides}, replace=False)
    if _state.config is not None:
        (text, description), _state.config = _state.config, None
        task._set_configuration(CONFIG_NAME, text, CONFIG_TYPE, description)


def _without_hydra(config: Any) -> Any:
    from omegaconf import open_dict, read_write

    cfg = copy.deepcopy(config)
    with read_write(cfg), open_dict(cfg):
        del cfg["hydra"]
    return cfg


def _is_multirun(config: Any) -> bool:
    from omegaconf import OmegaConf

    return str(OmegaConf.select(config, "hydra.mode")) == "RunMode.MULTIRUN"


@functools.cache
def _parser() -> Any:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create()


def _parse(text: str) -> Any:
    return _parser().parse_overrides(overrides=[text])[0]


def _key(text: str) -> str:
    try:
        return str(_parse(text).key_or_group)
    except Exception:  # not an override Hydra can read: never the same as a stored one
        return text


def _is_group(loader: Any, text: str) -> bool:
    """Whether ``text`` picks an option of a config group (``db=postgresql``)."""
    if loader is None:
        return False
    try:
        return bool(loader.repository.group_exists(_parse(text).key_or_group))
    except Exception:
        return False


def _override_type(text: str) -> str:
    try:
        value = _parse(text).value()
    except Exception:
        return "str"
    for kind in (bool, int, float):
        if isinstance(value, kind):
            return kind.__name__
    return "str"


# --- OmegaConf objects in connect / connect_configuration -----------------------------------


def is_omegaconf(obj: Any) -> bool:
    """A ``DictConfig`` or ``ListConfig`` (omegaconf is never imported to find out)."""
    module = sys.modules.get("omegaconf")
    return module is not None and isinstance(obj, module.Container)


def to_yaml(obj: Any) -> str:
    """The object as YAML, interpolations (``${opt.lr}``) kept as written."""
    from omegaconf import OmegaConf

    return str(OmegaConf.to_yaml(obj, resolve=False))


def plain_values(obj: Any) -> Any:
    """Plain dicts and lists, interpolations resolved where they can be."""
    from omegaconf import OmegaConf

    try:
        return OmegaConf.to_container(obj, resolve=True)
    except Exception:  # an interpolation that cannot be resolved yet: keep it as written
        return OmegaConf.to_container(obj, resolve=False)


def from_text(text: str, like: Any) -> Any:
    """The stored YAML as the same kind of object as ``like`` (DictConfig or ListConfig)."""
    from omegaconf import DictConfig, OmegaConf

    source: Any = text if text.strip() else ({} if isinstance(like, DictConfig) else [])
    try:
        value = OmegaConf.create(source)
    except Exception as exc:
        raise InvalidInput(f"the stored configuration is not valid YAML: {exc}") from None
    if type(value) is not type(like):
        kind = "a mapping" if isinstance(like, DictConfig) else "a list"
        raise InvalidInput(f"the stored configuration is not {kind}")
    return value


def writable(obj: Any) -> Any:
    """A context in which stored values may add keys to a struct-mode DictConfig."""
    if not is_omegaconf(obj):
        return nullcontext()
    from omegaconf import open_dict

    return open_dict(obj)
