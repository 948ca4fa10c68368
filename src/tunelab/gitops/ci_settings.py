"""The CI setup wizard's fields: where a repository's CI runs Tunelab tasks, and how.

Plain, checked data (``CiSettings.from_dict`` refuses what the generated workflow could not
carry safely); ``gitops.ci_workflow`` turns it into GitHub Actions and GitLab CI files.

Runners:

- ``hosted``: the forge's own machines (GitHub-hosted ``ubuntu-latest``, GitLab's shared
  runners);
- ``self-hosted``: runners the user registered, picked by their labels (GitLab: tags);
- ``cloud``: a runner launched for the job on the user's cloud by CML's ``cml runner launch``
  (the flags of https://cml.dev/doc/ref/runner: ``--cloud``, ``--cloud-region``,
  ``--cloud-type``, ``--cloud-gpu``, ``--cloud-hdd-size``, ``--cloud-spot``, ``--reuse``,
  ``--reuse-idle``, ``--labels``), which registers it with the labels the task's job asks for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from tunelab.errors import InvalidInput

RUNNERS = ("hosted", "self-hosted", "cloud")
CLOUDS = ("aws", "gcp", "azure", "kubernetes")
DEFAULT_SCRIPT = 'tunelab agent execute --id "$TUNELAB_TASK_ID"'
MAX_LABELS = 10
MAX_SCRIPT = 20_000

# Cloud names, regions, instance types and GPUs are vendor words ("us-east-1", "g4dn.xlarge",
# "nvidia-tesla-t4"): nothing a shell, YAML or a CI expression would read.
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:-]{0,99}")
_WORKFLOW = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.ya?ml")
_PYTHON = re.compile(r"3\.[0-9]{1,2}")


@dataclass(frozen=True)
class CiSettings:
    runner: str = "hosted"
    cloud: str = "aws"
    region: str = "us-west"
    instance_type: str = "m"
    gpu: str = ""  # "" is none
    spot: bool = False
    disk_size: int = 100  # GB
    reuse: bool = True  # keep the runner for the next task (CML --reuse, --reuse-idle)
    labels: tuple[str, ...] = ("tunelab",)
    script: str = DEFAULT_SCRIPT
    package: str = "tunelab"  # what pip installs: a name, a pinned version, a wheel's URL
    python_version: str = "3.12"
    workflow_file: str = "tunelab.yml"  # .github/workflows/<this>; what the server dispatches

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["labels"] = list(self.labels)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CiSettings:
        """Checked settings from JSON or a form; a missing key keeps its default, an unknown
        one is refused (InvalidInput naming it)."""
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise InvalidInput(f"unknown CI setting {key!r}", {"key": key})
        default = cls()
        values: dict[str, Any] = {}
        for name in known:
            raw = data.get(name, getattr(default, name))
            values[name] = _CHECKS[name](raw)
        return cls(**values)


def _bad(key: str, problem: str) -> InvalidInput:
    return InvalidInput(f"{key}: {problem}", {"key": key})


def _text(key: str, raw: Any) -> str:
    if not isinstance(raw, str):
        raise _bad(key, "must be text")
    if "\x00" in raw:
        raise _bad(key, "holds a NUL character")
    return raw.strip()


def _choice(key: str, choices: tuple[str, ...]) -> Any:
    def check(raw: Any) -> str:
        value = _text(key, raw).lower()
        if value not in choices:
            raise _bad(key, f"must be one of {', '.join(choices)}")
        return value

    return check


def _word(key: str, *, optional: bool = False) -> Any:
    def check(raw: Any) -> str:
        value = _text(key, raw)
        if optional and not value:
            return ""
        if not _WORD.fullmatch(value):
            raise _bad(key, "letters, digits and . _ / : - only (at most 100)")
        return value

    return check


def _pattern(key: str, pattern: re.Pattern[str], what: str) -> Any:
    def check(raw: Any) -> str:
        value = _text(key, raw)
        if not pattern.fullmatch(value):
            raise _bad(key, f"must be {what}")
        return value

    return check


def _flag(key: str) -> Any:
    def check(raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("on", "true", "1", "yes", ""):
            return raw != ""
        if isinstance(raw, str) and raw.lower() in ("off", "false", "0", "no"):
            return False
        raise _bad(key, "must be true or false")

    return check


def _disk_size(raw: Any) -> int:
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 65_536:
        raise _bad("disk_size", "must be a whole number of GB from 1 to 65536")
    return raw


def _labels(raw: Any) -> tuple[str, ...]:
    """Runner labels (GitLab tags): any text but commas (CML's --labels list separator),
    ``$`` (GitLab expands variables in tags) and control characters; the YAML writer quotes
    the rest."""
    if isinstance(raw, str):
        raw = raw.replace(",", "\n").splitlines()
    if not isinstance(raw, list | tuple) or not all(isinstance(x, str) for x in raw):
        raise _bad("labels", "must be a list of texts")
    labels = list(dict.fromkeys(x.strip() for x in raw if x.strip()))
    if len(labels) > MAX_LABELS:
        raise _bad("labels", f"at most {MAX_LABELS}")
    for label in labels:
        if len(label) > 100 or "," in label or "$" in label:
            raise _bad("labels", "each at most 100 characters, without ',' or '$'")
        if any(ord(c) < 32 or c == "\x7f" for c in label):
            raise _bad("labels", "no control characters")
        if label.lower() == "self-hosted":
            raise _bad("labels", "'self-hosted' is added by itself")
    return tuple(labels)


def _script(raw: Any) -> str:
    value = _text("script", raw).replace("\r\n", "\n")
    if not value:
        raise _bad("script", "the job needs a script (it runs the task)")
    if len(value) > MAX_SCRIPT:
        raise _bad("script", f"at most {MAX_SCRIPT} characters")
    return value


def _package(raw: Any) -> str:
    value = _text("package", raw)
    # One pip argument: never an option, nothing the shell or a CI file would expand.
    if not value or value.startswith("-") or len(value) > 500:
        raise _bad("package", "a package, a pinned version or a wheel's URL (not an option)")
    if any(c.isspace() or c in "$`\\\"'" or ord(c) < 32 for c in value):
        raise _bad("package", "no spaces, quotes, backslashes or '$'")
    return value


_CHECKS: dict[str, Any] = {
    "runner": _choice("runner", RUNNERS),
    "cloud": _choice("cloud", CLOUDS),
    "region": _word("region"),
    "instance_type": _word("instance_type"),
    "gpu": _word("gpu", optional=True),
    "spot": _flag("spot"),
    "disk_size": _disk_size,
    "reuse": _flag("reuse"),
    "labels": _labels,
    "script": _script,
    "package": _package,
    "python_version": _pattern("python_version", _PYTHON, "a Python version like 3.12"),
    "workflow_file": _pattern("workflow_file", _WORKFLOW, "a file name ending in .yml"),
}
