"""What the Run form offers at a commit: its parameter files and their values, the data files
its pipeline depends on, every file of its tree, and whether it has a DVC pipeline.

Read from the server's mirror in three ``cat-file`` calls and one ``ls-tree``: ``dvc.yaml``
and the tree; then the parameter files and the ``.dvc`` files. Which parameters a stage lists
decides what is *shown* by default (the others are hidden behind "Show all input parameters
(including hidden)"); without a ``dvc.yaml`` every key is shown.

Example::

    inputs = read_run_inputs(git_dir, sha, settings_files=["configs/train.yaml"])
    inputs.params[0].path, inputs.params[0].values["train.lr"].value   # "params.yaml", 0.1
    inputs.data_files                                                # ["data/data.xml"]
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from tunelab.errors import InvalidInput
from tunelab.gitops.command import run_git
from tunelab.gitops.history import read_files
from tunelab.params_files import (
    DEFAULT_PARAMS_FILE,
    ParamValue,
    flat_params,
    params_sources,
    read_params,
)
from tunelab.params_files import supported as supported_params_file

MAX_TREE_FILES = 5_000
DVC_SCRIPT = "dvc exp run"


@dataclass(frozen=True)
class ParamsFile:
    """One parameter file at the commit: its flat typed values (empty when missing or
    unreadable, with ``problem`` saying why) and the keys a stage lists (None: all)."""

    path: str
    values: dict[str, ParamValue] = field(default_factory=dict)
    tree: dict[str, Any] = field(default_factory=dict)  # the values nested, as in the file
    listed: frozenset[str] | None = None
    problem: str = ""

    def shown(self, key: str) -> bool:
        """Whether ``key`` is shown without "Show all": listed by a stage, or under a key
        that is (``train`` lists ``train.lr``)."""
        if self.listed is None:
            return True
        return any(key == name or key.startswith(f"{name}.") for name in self.listed)


@dataclass(frozen=True)
class RunInputs:
    commit: str
    has_dvc_yaml: bool
    params: list[ParamsFile]
    data_files: list[str]  # dvc.yaml deps and .dvc outputs, in the order found
    tree: list[str]  # every file of the commit (at most MAX_TREE_FILES)
    tree_truncated: bool


def read_run_inputs(git_dir: Path, sha: str, settings_files: Sequence[str] = ()) -> RunInputs:
    """The Run form's inputs at commit ``sha`` (a full sha the mirror has)."""
    tree, truncated = _tree(git_dir, sha)
    dvc_text = read_files(git_dir, [(sha, "dvc.yaml")])[(sha, "dvc.yaml")]
    pipeline = _pipeline(dvc_text)
    dvc_yaml = dvc_text.decode(errors="replace") if dvc_text is not None else None
    try:
        sources = params_sources(dvc_yaml, settings_files)
    except InvalidInput:  # a broken dvc.yaml: its files unknown, the rest still offered
        sources = [DEFAULT_PARAMS_FILE, *settings_files]
    sources = [p for p in dict.fromkeys(sources) if supported_params_file(p)]
    dvc_files = [p for p in tree if p.endswith(".dvc") and not p.startswith(".dvc/")]
    contents = read_files(git_dir, [(sha, p) for p in (*sources, *dvc_files)])
    listed = _listed_keys(pipeline) if pipeline is not None else None
    params = [
        _params_file(path, contents[(sha, path)], listed, path in tree)
        for path in sources
        if path in tree or contents[(sha, path)] is not None
    ]
    data = _dvc_deps(pipeline) + [
        out for p in dvc_files for out in _dvc_outs(p, contents[(sha, p)])
    ]
    return RunInputs(
        commit=sha,
        has_dvc_yaml=dvc_text is not None,
        params=params,
        data_files=list(dict.fromkeys(data)),
        tree=tree,
        tree_truncated=truncated,
    )


def _tree(git_dir: Path, sha: str) -> tuple[list[str], bool]:
    out = run_git(["ls-tree", "-r", "-z", "--name-only", "--end-of-options", sha], git_dir=git_dir)
    names = [n for n in out.decode(errors="replace").split("\x00") if n]
    return names[:MAX_TREE_FILES], len(names) > MAX_TREE_FILES


def _pipeline(content: bytes | None) -> Mapping[str, Any] | None:
    if content is None:
        return None
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, Mapping) else {}


def _stages(pipeline: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    """Each stage's body (``do`` of a foreach/matrix stage) with its working directory."""
    stages = pipeline.get("stages")
    if not isinstance(stages, Mapping):
        return
    for stage in stages.values():
        if not isinstance(stage, Mapping):
            continue
        do = stage.get("do")
        body: Mapping[str, Any] = do if isinstance(do, Mapping) else stage
        yield str(body.get("wdir") or stage.get("wdir") or ""), body


def _listed_keys(pipeline: Mapping[str, Any]) -> dict[str, frozenset[str] | None]:
    """``{file: keys}`` a stage lists (None: the whole file)."""
    listed: dict[str, set[str] | None] = {}

    def add(path: str, keys: Any) -> None:
        path = _normal(path)
        if keys is None or keys == [] or listed.get(path, set()) is None:
            listed[path] = None
            return
        found = listed.setdefault(path, set())
        assert found is not None
        found.update(str(k) for k in (keys if isinstance(keys, list) else [keys]))

    for entry in _as_list(pipeline.get("params")):
        if isinstance(entry, str):
            add(entry, None)
    for wdir, body in _stages(pipeline):
        for entry in _as_list(body.get("params")):
            if isinstance(entry, Mapping):
                for name, keys in entry.items():
                    add(posixpath.join(wdir, str(name)), keys)
            elif isinstance(entry, str) and entry:
                add(posixpath.join(wdir, DEFAULT_PARAMS_FILE), [entry])
    return {path: frozenset(keys) if keys is not None else None for path, keys in listed.items()}


def _params_file(
    path: str,
    content: bytes | None,
    listed: Mapping[str, frozenset[str] | None] | None,
    in_tree: bool,
) -> ParamsFile:
    # With a dvc.yaml, a file no stage names has all of its keys hidden (empty set).
    keys = None if listed is None else listed.get(path, frozenset())
    if content is None:
        problem = "larger than 1 MiB or not a file" if in_tree else ""
        return ParamsFile(path, listed=keys, problem=problem)
    try:
        text = content.decode()
        values, tree = flat_params(path, text), read_params(path, text)
    except (InvalidInput, UnicodeDecodeError) as exc:
        message = exc.message if isinstance(exc, InvalidInput) else "not UTF-8 text"
        return ParamsFile(path, listed=keys, problem=message)
    return ParamsFile(path, values, tree, keys)


def _dvc_deps(pipeline: Mapping[str, Any] | None) -> list[str]:
    if pipeline is None:
        return []
    found: list[str] = []
    for wdir, body in _stages(pipeline):
        for dep in _as_list(body.get("deps")):
            if isinstance(dep, str) and dep and "${" not in dep:
                found.append(_normal(posixpath.join(wdir, dep)))
    return [p for p in found if _inside(p)]


def _dvc_outs(dvc_file: str, content: bytes | None) -> list[str]:
    """The paths a ``.dvc`` file tracks (its ``outs``), relative to the repository."""
    if content is None:
        return []
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError:
        return []
    if not isinstance(data, Mapping):
        return []
    here = posixpath.dirname(dvc_file)
    found = []
    for out in _as_list(data.get("outs")):
        path = out.get("path") if isinstance(out, Mapping) else None
        if isinstance(path, str) and path:
            found.append(_normal(posixpath.join(here, path)))
    return [p for p in found if _inside(p)]


def _inside(path: str) -> bool:
    return bool(path) and not path.startswith(("/", "../")) and path != ".."


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _normal(path: str) -> str:
    normal = posixpath.normpath(path)
    return normal[2:] if normal.startswith("./") else normal
