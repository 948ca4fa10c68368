"""Metrics committed with the code: the numbers each commit's metrics files hold.

Which files: ``metrics.json`` (DVCLive's and DVC's usual name), the files ``dvc.yaml`` lists
under ``metrics`` (top level or any stage's ``outs``-like ``metrics`` list), and the files the
project's settings name. JSON or YAML; nested keys are flattened with ``.``
(``{"train": {"loss": 0.1}}`` is ``train.loss``), and only numbers (and booleans) are kept.
For many commits it costs two ``cat-file`` calls: ``dvc.yaml`` and the named files, then the
files ``dvc.yaml`` lists.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from tunelab.errors import InvalidInput
from tunelab.gitops.history import read_files
from tunelab.gitops.refs import check_path

DEFAULT_FILES = ("metrics.json",)
MAX_METRICS = 200


def commit_metrics(
    git_dir: Path, shas: Sequence[str], files: Sequence[str] = ()
) -> dict[str, dict[str, float]]:
    """``{sha: {metric: value}}`` for every commit in ``shas`` (empty where none)."""
    named = _unique([*DEFAULT_FILES, *files])
    first = read_files(git_dir, [(sha, p) for sha in shas for p in ("dvc.yaml", *named)])
    listed: dict[str, list[str]] = {}
    for sha in shas:
        listed[sha] = [p for p in dvc_metrics_files(first[(sha, "dvc.yaml")]) if p not in named]
    second = read_files(git_dir, [(sha, p) for sha in shas for p in listed[sha]])
    found: dict[str, dict[str, float]] = {}
    for sha in shas:
        values: dict[str, float] = {}
        for path in (*named, *listed[sha]):
            content = first.get((sha, path)) if path in named else second.get((sha, path))
            if content is not None:
                values.update(parse_metrics(path, content))
        found[sha] = dict(list(values.items())[:MAX_METRICS])
    return found


def dvc_metrics_files(content: bytes | None) -> list[str]:
    """The metrics files a ``dvc.yaml`` lists: its top-level ``metrics`` and each stage's
    ``metrics`` outputs (plain paths or ``{path: {cache: false}}`` entries)."""
    if content is None:
        return []
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError:
        return []
    if not isinstance(data, dict):
        return []
    entries: list[Any] = list(_as_list(data.get("metrics")))
    stages = data.get("stages")
    if isinstance(stages, dict):
        for stage in stages.values():
            if isinstance(stage, dict):
                entries += _as_list(stage.get("metrics"))
    paths: list[str] = []
    for entry in entries:
        names: list[Any] = [entry] if isinstance(entry, str) else []
        if isinstance(entry, dict):  # {path: {cache: false}}
            names = list(entry)
        for name in names:
            try:
                paths.append(check_path(str(name)))
            except InvalidInput:
                continue
    return _unique(paths)


def parse_metrics(path: str, content: bytes) -> dict[str, float]:
    """A metrics file's numbers, flattened; ``{}`` for one that does not parse."""
    try:
        data = json.loads(content) if path.endswith(".json") else yaml.safe_load(content)
    except (ValueError, yaml.YAMLError):
        return {}
    return dict(_flatten(data, ""))


def _flatten(value: Any, prefix: str) -> Iterable[tuple[str, float]]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _flatten(inner, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, bool | int | float) and prefix:
        yield prefix, float(value)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
