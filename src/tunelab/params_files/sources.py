"""Which files a repository's parameters come from, as DVC reads them.

``params.yaml`` always; then every file a ``dvc.yaml`` names: a stage's ``params`` list holds
keys of ``params.yaml`` (``- lr``) or ``{file: [keys]}`` entries (``- train.json: [lr]``, or
``- config.toml:`` for all of that file's keys), relative to the stage's ``wdir``; a
``foreach``/``matrix`` stage has them under ``do`` or at its top; and the top-level
``params`` list names whole files. Last, the files a project's repository settings list.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml  # type: ignore[import-untyped]

from tunelab.errors import InvalidInput

DEFAULT_PARAMS_FILE = "params.yaml"


def params_sources(
    dvc_yaml: str | None, settings_files: Sequence[str] = (), *, dvc_dir: str = ""
) -> list[str]:
    """The parameter files, each once, in the order found: ``params.yaml`` first.

    ``dvc_yaml`` is the text of the repository's ``dvc.yaml`` (None when it has none), found
    in ``dvc_dir`` (``""`` for the repository's root); paths answered are from the root.
    """
    found = [DEFAULT_PARAMS_FILE]
    if dvc_yaml is not None:
        found.extend(_dvc_yaml_files(dvc_yaml, dvc_dir))
    found.extend(settings_files)
    return list(dict.fromkeys(_normal(path) for path in found))


def _dvc_yaml_files(text: str, dvc_dir: str) -> list[str]:
    try:
        pipeline = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"dvc.yaml is not valid YAML: {exc}") from None
    if pipeline is None:
        return []
    if not isinstance(pipeline, Mapping):
        raise InvalidInput("dvc.yaml must hold a mapping at the top")
    files: list[str] = []
    for entry in _as_list(pipeline.get("params")):
        # Top level: whole files (``- params.yaml``, ``- config.json``).
        files.extend(posixpath.join(dvc_dir, name) for name in _entry_files(entry, None))
    stages = pipeline.get("stages") or {}
    if not isinstance(stages, Mapping):
        raise InvalidInput("dvc.yaml's stages must be a mapping of stage names")
    for stage in stages.values():
        if not isinstance(stage, Mapping):
            continue
        do = stage.get("do")
        body: Mapping[str, Any] = do if isinstance(do, Mapping) else stage
        wdir = posixpath.join(dvc_dir, str(body.get("wdir") or stage.get("wdir") or ""))
        for entry in _as_list(body.get("params")):
            files.extend(posixpath.join(wdir, name) for name in _entry_files(entry, "default"))
    return files


def _entry_files(entry: Any, keys_mean: str | None) -> Iterable[str]:
    """The files one ``params`` entry names: a bare key means ``params.yaml`` in a stage
    (``keys_mean="default"``) and a file at the top level."""
    if isinstance(entry, Mapping):
        return [str(name) for name in entry]
    if isinstance(entry, str) and entry:
        return [DEFAULT_PARAMS_FILE if keys_mean == "default" else entry]
    return []


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _normal(path: str) -> str:
    normal = posixpath.normpath(path)
    return normal[2:] if normal.startswith("./") else normal
