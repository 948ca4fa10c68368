"""Reusing a step's earlier run: a step whose inputs match a completed task is not re-run.

The inputs are the step's code (repository, commit, entry point and uncommitted diff, or a
function step's script text), its hyperparameters and configuration after references are
resolved, and the content hashes of the artifacts its references name. Their digest is kept
on the step's task as the tag ``pipeline-cache:<digest>``, so a later run finds it by tag.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from tunelab.errors import NotFound

TAG_PREFIX = "pipeline-cache:"
_CODE_FIELDS = ("repository", "commit", "entry_point", "working_dir", "diff", "binary")


def cache_key(task: Mapping[str, Any], input_hashes: Mapping[str, str]) -> str:
    """The digest of what decides a step's result, read from its prepared (draft) task."""
    execution = task.get("execution") or {}
    hyperparameters = {
        section: {name: [body.get("value"), body.get("type")] for name, body in values.items()}
        for section, values in (task.get("hyperparameters") or {}).items()
    }
    configuration = {
        name: [body.get("type"), body.get("text")]
        for name, body in (task.get("configuration") or {}).items()
    }
    inputs = {
        "code": {field: execution.get(field, "") for field in _CODE_FIELDS},
        "hyperparameters": hyperparameters,
        "configuration": configuration,
        "artifacts": dict(sorted(input_hashes.items())),
    }
    text = json.dumps(inputs, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cache_tag(key: str) -> str:
    return f"{TAG_PREFIX}{key}"


def find_cached(client: Any, key: str, exclude: str) -> dict[str, Any] | None:
    """The newest completed (or published) task carrying ``key``, other than ``exclude``."""
    listing = client.list_tasks(
        tag=[cache_tag(key)], status=["completed", "published"], page_size=5
    )
    for item in listing.get("items", []):
        if item["id"] == exclude:
            continue
        try:
            return dict(client.get_task(item["id"]))
        except NotFound:  # deleted between the listing and now
            continue
    return None
