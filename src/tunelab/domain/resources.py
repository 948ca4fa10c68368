"""What a task asks of the machine that runs it: GPUs, CPUs, memory, a time limit.

A launcher turns these into its engine's requests (Slurm: ``--gres=gpu:N``,
``--cpus-per-task``, ``--mem``, ``--time``); the cloud fields (``cloud``, ``region``,
``instance_type``, ``spot``, ``disk_size``) are for cloud back ends. An agent daemon runs
on the machine it is on and can honour none of them: it says so in the task's console.
Every field is optional; an empty record asks for nothing.

Sizes are written like ``"16G"`` or ``"512M"`` (K, M, G, T; a bare number is megabytes, as
in Slurm), and kept in that form with the unit upper-cased. A time limit is written like
``"2:00:00"``, ``"90:00"``, ``"1-12:00:00"`` (Slurm's forms) or ``"90m"``, ``"2h"``,
``"1d"``, ``"45s"``, and kept as ``H:MM:SS``.

Example::

    wanted = Resources.from_dict({"gpus": 1, "cpus": 4, "memory": "16g", "time_limit": "2h"})
    wanted.memory, wanted.time_limit      # ("16G", "2:00:00")
    wanted.memory_megabytes               # 16384
    wanted.requested()                    # ["gpus", "cpus", "memory", "time_limit"]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from tunelab.errors import InvalidInput

MAX_COUNT = 4096
MAX_NAME_LENGTH = 128
# A year: longer is a typo, and Slurm's own limit is "infinite", not a number.
MAX_TIME_SECONDS = 366 * 24 * 3600

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_MEGABYTES = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}
_UNIT_TIME = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_CLOCK_TIME = re.compile(r"^\s*(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?\s*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")


def parse_size(value: Any, what: str = "memory") -> str:
    """``"16G"``-style text (or a number of megabytes) in its kept form; InvalidInput else."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInput(f"{what} must be a size like '16G' or '512M', got {value!r}")
    found = _SIZE.match(str(value))
    if found is None or float(found.group(1)) <= 0:
        raise InvalidInput(f"{what} must be a size like '16G' or '512M', got {value!r}")
    number, unit = found.group(1), (found.group(2) or "M").upper()
    if float(number) * _MEGABYTES[unit] > 1024**3:  # an exabyte: a typo
        raise InvalidInput(f"{what} {value!r} is larger than any machine")
    return f"{number}{unit}"


def size_megabytes(size: str) -> int:
    """A kept size in whole megabytes, rounded up."""
    found = _SIZE.match(size)
    if found is None:
        raise InvalidInput(f"not a size: {size!r}")
    megabytes = float(found.group(1)) * _MEGABYTES[(found.group(2) or "M").upper()]
    return max(1, int(-(-megabytes // 1)))


def parse_time_limit(value: Any) -> str:
    """A time limit in its kept form ``H:MM:SS``; InvalidInput for anything else."""
    seconds = _seconds(value)
    if seconds <= 0 or seconds > MAX_TIME_SECONDS:
        raise InvalidInput(f"time_limit must be more than 0 and at most 366 days, got {value!r}")
    return format_seconds(seconds)


def format_seconds(seconds: int) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def time_limit_seconds(time_limit: str) -> int:
    return _seconds(time_limit)


def _seconds(value: Any) -> int:
    problem = f"time_limit must be like '2:00:00', '90m' or '2h', got {value!r}"
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInput(problem)
    if isinstance(value, int):
        return value * 60  # a bare number is minutes, as in Slurm
    unit = _UNIT_TIME.match(value)
    if unit is not None:
        return int(float(unit.group(1)) * _UNIT_SECONDS[unit.group(2).lower()])
    clock = _CLOCK_TIME.match(value)
    if clock is None:
        raise InvalidInput(problem)
    days = int(clock.group(1) or 0)
    parts = [int(p) for p in clock.group(2, 3, 4) if p is not None]
    if days:  # days-hours[:minutes[:seconds]]
        parts += [0] * (3 - len(parts))
        hours, minutes, secs = parts
    elif len(parts) == 1:  # minutes
        hours, minutes, secs = 0, parts[0], 0
    elif len(parts) == 2:  # minutes:seconds
        hours, minutes, secs = 0, parts[0], parts[1]
    else:
        hours, minutes, secs = parts
    if (len(parts) > 1 and secs > 59) or (len(parts) > 2 and minutes > 59):
        raise InvalidInput(problem)
    return ((days * 24 + hours) * 60 + minutes) * 60 + secs


def _count(value: Any, what: str, least: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= MAX_COUNT:
        raise InvalidInput(f"{what} must be a whole number from {least} to {MAX_COUNT}")
    return value


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_NAME_LENGTH:
        raise InvalidInput(f"{what} must be text of at most {MAX_NAME_LENGTH} characters")
    if value and not _NAME.match(value):
        raise InvalidInput(f"{what} {value!r} may hold only letters, digits and . _ : / -")
    return value


def asked(value: Any) -> bool:
    """Any value but None, "" and False: 0 GPUs is asked (a job with none), though
    ``0 in (None, "", False)`` is true."""
    return value is not None and value is not False and value != ""


@dataclass(frozen=True)
class Resources:
    """A task's resource request; None or "" for what it does not ask."""

    gpus: int | None = None
    gpu_type: str = ""
    cpus: int | None = None
    memory: str = ""
    time_limit: str = ""
    cloud: str = ""
    region: str = ""
    instance_type: str = ""
    spot: bool = False
    disk_size: str = ""

    @classmethod
    def from_dict(cls, value: Mapping[str, Any] | None) -> Resources:
        """Checked; InvalidInput names the first bad field."""
        if value is None:
            return cls()
        if not isinstance(value, Mapping):
            raise InvalidInput("resources must be an object")
        known = {f.name for f in fields(cls)}
        unknown = set(value) - known
        if unknown:
            raise InvalidInput(
                f"unknown resources fields {sorted(unknown)}; known: {', '.join(sorted(known))}"
            )
        spot = value.get("spot", False)
        if not isinstance(spot, bool):
            raise InvalidInput("resources.spot must be true or false")
        gpus = _count(value.get("gpus"), "resources.gpus", 0)
        gpu_type = _name(value.get("gpu_type") or "", "resources.gpu_type")
        if gpu_type and not gpus:
            raise InvalidInput("resources.gpu_type needs resources.gpus (how many)")
        memory, time_limit = value.get("memory") or "", value.get("time_limit") or ""
        disk = value.get("disk_size") or ""
        return cls(
            gpus=gpus,
            gpu_type=gpu_type,
            cpus=_count(value.get("cpus"), "resources.cpus", 1),
            memory=parse_size(memory, "resources.memory") if memory else "",
            time_limit=parse_time_limit(time_limit) if time_limit else "",
            cloud=_name(value.get("cloud") or "", "resources.cloud"),
            region=_name(value.get("region") or "", "resources.region"),
            instance_type=_name(value.get("instance_type") or "", "resources.instance_type"),
            spot=spot,
            disk_size=parse_size(disk, "resources.disk_size") if disk else "",
        )

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def requested(self) -> list[str]:
        """The fields this record asks for, in field order."""
        return [f.name for f in fields(self) if asked(getattr(self, f.name))]

    @property
    def memory_megabytes(self) -> int | None:
        return size_megabytes(self.memory) if self.memory else None

    @property
    def time_limit_seconds(self) -> int | None:
        return time_limit_seconds(self.time_limit) if self.time_limit else None

    def describe(self) -> str:
        """One line for a console or a page: ``1 GPU (a100), 4 CPUs, 16G memory, 2:00:00``."""
        parts = []
        if self.gpus is not None:
            kind = f" ({self.gpu_type})" if self.gpu_type else ""
            parts.append(f"{self.gpus} GPU{'s' if self.gpus != 1 else ''}{kind}")
        if self.cpus is not None:
            parts.append(f"{self.cpus} CPU{'s' if self.cpus != 1 else ''}")
        if self.memory:
            parts.append(f"{self.memory} memory")
        if self.time_limit:
            parts.append(f"time limit {self.time_limit}")
        where = [self.cloud, self.region, self.instance_type]
        if any(where):
            parts.append("on " + "/".join(w for w in where if w))
        if self.spot:
            parts.append("spot")
        if self.disk_size:
            parts.append(f"{self.disk_size} disk")
        return ", ".join(parts)


# Whole numbers among the fields (a form sends text; empty asks for none).
_COUNTS = frozenset({"gpus", "cpus"})


def from_form(texts: Mapping[str, str]) -> dict[str, Any]:
    """A form's text fields (named as the record's; a checked ``spot`` is ``"true"``) as
    ``resources`` fields for ``Resources.from_dict``; a count that is not a whole number is
    InvalidInput here, everything else is checked there."""
    given: dict[str, Any] = {}
    for name, raw in texts.items():
        text = raw.strip()
        if name in _COUNTS:
            if text and not text.isdigit():
                raise InvalidInput(f"{name} must be a whole number, got {text!r}")
            given[name] = int(text) if text else None
        elif name == "spot":
            given[name] = text == "true"  # an unchecked box is not posted
        else:
            given[name] = text
    return given


def parse_accelerators(text: str) -> tuple[str, int]:
    """SkyPilot's ``A100:2`` (or ``A100``, one) as (GPU type, GPUs)."""
    kind, _, count = text.strip().partition(":")
    if not kind or (count and not count.isdigit()):
        raise InvalidInput(f"accelerators must be like 'A100' or 'A100:2', got {text!r}")
    return kind, int(count or 1)


def with_accelerators(given: Mapping[str, Any], accelerators: str) -> dict[str, Any]:
    """``given`` with SkyPilot's ``accelerators`` folded in: they are ``gpus`` and
    ``gpu_type`` written ``TYPE:COUNT``, so each may fill what ``given`` leaves empty, and
    where both say something they must agree (the type compared without case)."""
    out = dict(given)
    if not accelerators.strip():
        return out
    kind, count = parse_accelerators(accelerators)
    gpus, gpu_type = out.get("gpus"), str(out.get("gpu_type") or "")
    if (gpus is not None and gpus != count) or (gpu_type and gpu_type.lower() != kind.lower()):
        said = f"{gpus if gpus is not None else ''} {gpu_type}".strip()
        raise InvalidInput(
            f"accelerators {accelerators.strip()!r} disagree with GPUs {said!r}: accelerators "
            "are GPUs and GPU type written TYPE:COUNT; give one, or make them agree"
        )
    out["gpus"], out["gpu_type"] = count, gpu_type or kind
    return out


def read_resources(stored: Any) -> dict[str, Any]:
    """The task JSON's ``resources`` from a column's value (NULL: nothing asked)."""
    if not isinstance(stored, Mapping):
        return Resources().to_dict()
    return Resources.from_dict(stored).to_dict()
