"""Where a launcher submitted a task: the engine, its job id, the job's state and why.

A launcher (``tunelab launcher``) takes a task off a queue and submits a job to a scheduler;
it writes this record on the task when it submits, and again whenever the job's state
changes, so the task's Info tab says "pending in Slurm: Resources" and a restarted launcher
finds its jobs again from the tasks it runs. Only the task's worker (the launcher) writes it;
reset empties it; a clone starts without one.

Example::

    launch = Launch(backend="slurm", job_id="4242", state="PENDING", reason="Resources")
    launch.describe()       # "pending in Slurm: Resources"
    launch.waiting()        # "pending in Slurm" (the task's status badge adds it)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from tunelab.errors import InvalidInput

MAX_TEXT = 256
# The engines' words for a job not running yet: submitted and not seen since, waiting in the
# queue (Slurm, Kubernetes, SkyPilot's jobs), nodes being set up, requeued, an instance
# looked for or coming up (the cloud back end's LAUNCHING, INIT, RELAUNCHING).
WAITING_STATES = frozenset(
    {"SUBMITTED", "PENDING", "CONFIGURING", "REQUEUED", "LAUNCHING", "INIT", "RELAUNCHING"}
)
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]*$")


@dataclass(frozen=True)
class Launch:
    """The job a launcher runs a task in."""

    backend: str = ""
    job_id: str = ""
    state: str = ""
    reason: str = ""
    launcher: str = ""  # the launcher's worker id
    updated: float | None = None
    cost: str = ""  # the engine's estimate, where it has one ("$0.07/h" on a cloud)

    @classmethod
    def from_dict(cls, value: Mapping[str, Any] | None) -> Launch:
        if value is None:
            return cls()
        if not isinstance(value, Mapping):
            raise InvalidInput("launch must be an object")
        known = {f.name for f in fields(cls)}
        unknown = set(value) - known
        if unknown:
            raise InvalidInput(f"unknown launch fields {sorted(unknown)}; known: {sorted(known)}")
        texts = {}
        for name in ("backend", "job_id", "state", "reason", "launcher", "cost"):
            text = value.get(name) or ""
            if not isinstance(text, str) or len(text) > MAX_TEXT:
                raise InvalidInput(f"launch.{name} must be text of at most {MAX_TEXT} characters")
            texts[name] = text
        for name in ("backend", "job_id", "state"):
            if texts[name] and not _TOKEN.match(texts[name]):
                raise InvalidInput(f"launch.{name} {texts[name]!r} is not a plain word")
        updated = value.get("updated")
        if updated is not None and (
            isinstance(updated, bool) or not isinstance(updated, int | float)
        ):
            raise InvalidInput("launch.updated must be a time in seconds")
        return cls(**texts, updated=None if updated is None else float(updated))

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def describe(self) -> str:
        """``pending in Slurm: Resources`` (empty for no job)."""
        if not self.job_id:
            return ""
        where = self.backend[:1].upper() + self.backend[1:]
        text = f"{self.state.lower().replace('_', ' ') or 'submitted'} in {where}"
        return f"{text}: {self.reason}" if self.reason and self.reason != "None" else text

    def waiting(self) -> str:
        """``pending in Slurm`` while the job waits for its scheduler ("" once it runs or
        for no job): a task a launcher took is running by then, though its script is not."""
        if not self.job_id or (self.state or "SUBMITTED") not in WAITING_STATES:
            return ""
        word = "starting" if self.state == "INIT" else (self.state or "submitted").lower()
        return f"{word} in {self.backend[:1].upper() + self.backend[1:]}"


def waiting_text(launch: Mapping[str, Any] | None) -> str:
    """``Launch.waiting`` of a task JSON's ``launch`` (None: not launched)."""
    return Launch.from_dict(launch).waiting() if launch else ""


def read_launch(stored: Any) -> dict[str, Any] | None:
    """The task JSON's ``launch`` from a column's value (NULL: not launched by a launcher)."""
    if not isinstance(stored, Mapping):
        return None
    return Launch.from_dict(stored).to_dict()
