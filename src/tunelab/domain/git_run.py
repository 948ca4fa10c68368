"""A task started from a repository commit: what the run changes, runs, and where results go.

The Run form fills a ``GitRun``; the agent (or the repository's CI) reads it: it writes each
parameter file's hyperparameter section into that file, puts each data file in place, runs
``script`` in the repository root and commits the results to ``branch``. ``results`` says
what became of that commit; only the agent and the server fill it.

Example::

    run = GitRun(params_files=("params.yaml",), script="dvc exp run",
                 base_branch="main", branch="tunelab/1a2b3c4-1", pull_request=True)
    GitRun.from_dict(run.to_dict()) == run          # True
    run.without_results()                           # what a clone copies
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from tunelab.errors import InvalidInput

RESULT_STATES = ("", "pushed", "failed", "not_pushed")
DATA_SOURCES = ("upload", "artifact")
RUNS_ON = ("queue", "ci")

MAX_PATH_LENGTH = 1024
MAX_FILES = 1000
MAX_TEXT_LENGTH = 64 * 1024


def check_repository_path(path: Any, what: str = "path") -> str:
    """A repository-relative POSIX path, or InvalidInput: not absolute, no ``..``, no empty
    or ``.`` parts, not under ``.git``, no backslash or NUL (the agent writes it to disk)."""
    if not isinstance(path, str) or not path or len(path) > MAX_PATH_LENGTH:
        raise InvalidInput(f"{what} must be a repository path of 1 to {MAX_PATH_LENGTH} characters")
    if "\x00" in path or "\\" in path or path.startswith("/"):
        raise InvalidInput(f"{what} {path!r} must be a relative POSIX path inside the repository")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise InvalidInput(f"{what} {path!r} must not hold empty, '.' or '..' parts")
    if parts[0].lower() == ".git":
        raise InvalidInput(f"{what} {path!r} is inside .git")
    return path


@dataclass(frozen=True)
class DataFile:
    """A repository file replaced for this run by content stored elsewhere."""

    path: str
    uri: str
    sha256: str
    size: int
    source: str = "upload"
    artifact_task: str = ""
    artifact_name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataFile:
        data = _mapping(data, "a data file")
        sha256 = _text(data, "sha256", "data file").lower()
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise InvalidInput("a data file's sha256 must be 64 hex digits")
        size = data.get("size", 0)
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidInput("a data file's size must be a whole number >= 0")
        source = _choice(data, "source", DATA_SOURCES, "upload")
        uri = _text(data, "uri", "data file")
        if not uri:
            raise InvalidInput("a data file needs the uri of its content")
        return cls(
            path=check_repository_path(data.get("path"), "a data file's path"),
            uri=uri,
            sha256=sha256,
            size=size,
            source=source,
            artifact_task=_text(data, "artifact_task", "data file"),
            artifact_name=_text(data, "artifact_name", "data file"),
        )


@dataclass(frozen=True)
class GitResults:
    """What happened to the results commit (``state`` "" until the run ends)."""

    state: str = ""
    error: str = ""
    commit: str = ""
    branch: str = ""
    pull_request_url: str = ""
    bundle: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GitResults:
        data = _mapping(data, "git results")
        values = {f.name: _text(data, f.name, "git results") for f in fields(cls)}
        values["state"] = _choice(data, "state", RESULT_STATES, "")
        url = values["pull_request_url"]
        if url and not url.startswith(("https://", "http://")):
            # Shown as a link on the experiment's page.
            raise InvalidInput("git results' pull_request_url must be an http(s) URL")
        return cls(**values)


@dataclass(frozen=True)
class GitRun:
    """A run of a repository commit with edits; see the module docstring."""

    params_files: tuple[str, ...] = ()
    data_files: tuple[DataFile, ...] = ()
    script: str = ""
    commit_message: str = ""
    commit_description: str = ""
    base_branch: str = ""
    branch: str = ""
    pull_request: bool = False
    runs_on: str = "queue"
    results: GitResults = field(default_factory=GitResults)

    def to_dict(self) -> dict[str, Any]:
        return {
            "params_files": list(self.params_files),
            "data_files": [d.to_dict() for d in self.data_files],
            "script": self.script,
            "commit_message": self.commit_message,
            "commit_description": self.commit_description,
            "base_branch": self.base_branch,
            "branch": self.branch,
            "pull_request": self.pull_request,
            "runs_on": self.runs_on,
            "results": self.results.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GitRun:
        """Checked; unknown keys are ignored (a newer server's record reads on an older
        agent)."""
        data = _mapping(data, "git_run")
        params_files = data.get("params_files", [])
        data_files = data.get("data_files", [])
        if not isinstance(params_files, list | tuple) or len(params_files) > MAX_FILES:
            raise InvalidInput(f"git_run.params_files must be a list of at most {MAX_FILES} paths")
        if not isinstance(data_files, list | tuple) or len(data_files) > MAX_FILES:
            raise InvalidInput(f"git_run.data_files must be a list of at most {MAX_FILES} files")
        paths = tuple(check_repository_path(p, "a parameter file") for p in params_files)
        files = tuple(DataFile.from_dict(d) for d in data_files)
        if len({f.path for f in files}) != len(files):
            raise InvalidInput("git_run.data_files names one path twice")
        pull_request = data.get("pull_request", False)
        if not isinstance(pull_request, bool):
            raise InvalidInput("git_run.pull_request must be true or false")
        results = data.get("results")
        return cls(
            params_files=tuple(dict.fromkeys(paths)),
            data_files=files,
            script=_text(data, "script", "git_run", 1 << 20),
            commit_message=_text(data, "commit_message", "git_run"),
            commit_description=_text(data, "commit_description", "git_run"),
            base_branch=_text(data, "base_branch", "git_run", 255),
            branch=_text(data, "branch", "git_run", 255),
            pull_request=pull_request,
            runs_on=_choice(data, "runs_on", RUNS_ON, "queue"),
            results=GitResults.from_dict(results) if results else GitResults(),
        )

    def without_results(self) -> GitRun:
        """The record a clone starts with, and a reset leaves: the run not yet made."""
        return replace(self, results=GitResults())


def _mapping(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{what} must be an object")
    return data


def _text(data: Mapping[str, Any], key: str, what: str, limit: int = MAX_TEXT_LENGTH) -> str:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{what}.{key} must be text, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidInput(f"{what}.{key} is at most {limit} characters")
    if "\x00" in value:
        raise InvalidInput(f"{what}.{key} must not hold a NUL character")
    return value


def _choice(data: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = data.get(key, default)
    if value not in allowed:
        raise InvalidInput(f"{key} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return str(value)
