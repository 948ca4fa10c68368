"""The session log: API writes as JSON lines, shared by the spool and the offline mode.

One line per operation, in the order the program made them::

    {"op": "create_task", "task_id": "offline-3f2a...", "args": {"body": {...}}, "batch_id": null}
    {"op": "set_hyperparameters", "task_id": "...", "args": {"params": {...}, "replace": false}}
    {"op": "scalars", "task_id": "...", "args": {"series": [...]}, "batch_id": "9c1e..."}
    {"op": "console", "task_id": "...", "args": {"lines": [...]}, "batch_id": "77d0..."}
    {"op": "plots", "task_id": "...", "args": {"plots": [...]}, "batch_id": "a41b..."}

``task_id`` is a server id (a spool file) or a local ``offline-<hex>`` id (an offline
session, mapped to the server's id when it is synced). ``batch_id`` travels with the
scalars, console and plots ops, so replaying a line the server already stored changes nothing.
Writes append whole lines and fsync; a last line cut short by a crash is ignored.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tunelab.domain.scalar_wire import MAX_BATCH_ID_LENGTH, halve_series
from tunelab.errors import InvalidInput, PayloadTooLarge

OPS = (
    "create_task",
    "update_task",
    "set_hyperparameters",
    "set_configuration",
    "set_user_properties",
    "scalars",
    "put_artifact",
    "set_input_model",
    "record_capture_warnings",
    "console",
    "plots",
    "debug_sample",
)
# The input setters: op name -> the name of its payload argument (as in ApiClient).
_SETTERS = {
    "set_hyperparameters": "params",
    "set_configuration": "objs",
    "set_user_properties": "props",
}


class WriteClient(Protocol):
    """What the reporter and ``sync_session`` need: ``ApiClient`` and ``OfflineClient``."""

    def create_task(self, body: Mapping[str, Any]) -> dict[str, Any]: ...
    def update_task(self, task_id: str, **fields: Any) -> dict[str, Any]: ...
    def set_hyperparameters(
        self, task_id: str, params: Mapping[str, Any], replace: bool = False
    ) -> dict[str, Any]: ...
    def set_configuration(
        self, task_id: str, objs: Mapping[str, Any], replace: bool = False
    ) -> dict[str, Any]: ...
    def set_user_properties(
        self, task_id: str, props: Mapping[str, Any], replace: bool = False
    ) -> dict[str, Any]: ...
    def post_scalars(self, task_id: str, batch: Mapping[str, Any]) -> dict[str, Any]: ...
    def post_console(
        self, task_id: str, lines: Sequence[Mapping[str, Any]], batch_id: str | None = None
    ) -> dict[str, Any]: ...
    def post_plots(
        self, task_id: str, plots: Sequence[Mapping[str, Any]], batch_id: str | None = None
    ) -> dict[str, Any]: ...
    def put_artifact(self, task_id: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]: ...
    def set_input_model(self, task_id: str, model_id: str | None) -> dict[str, Any]: ...
    def post_debug_sample(self, task_id: str, body: Mapping[str, Any]) -> dict[str, Any]: ...
    def record_capture_warnings(
        self, task_id: str, warnings: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Op:
    op: str
    task_id: str
    args: dict[str, Any]
    batch_id: str | None = None

    def to_line(self) -> bytes:
        record = {
            "op": self.op,
            "task_id": self.task_id,
            "args": self.args,
            "batch_id": self.batch_id,
        }
        return json.dumps(record, separators=(",", ":"), default=_as_text).encode("ascii") + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> Op:
        try:
            record = json.loads(line)
        except RecursionError:  # nested deeper than any line this module writes
            raise ValueError("not a session log operation") from None
        if (
            not isinstance(record, dict)
            or record.get("op") not in OPS
            or not isinstance(record.get("task_id"), str)
            or not isinstance(record.get("args"), dict)
        ):
            raise ValueError("not a session log operation")
        return cls(record["op"], record["task_id"], record["args"], record.get("batch_id"))


def _as_text(value: Any) -> str:
    # Packed scalar arrays are bytes in memory and base64 in the file (the JSON API's form).
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} cannot be written to a session log")


def op_for_call(method: str, *args: Any, **kwargs: Any) -> Op:
    """The op for a client call such as ``("set_hyperparameters", task_id, params, replace=True)``.

    The arguments are copied through JSON, so later changes to a dict the caller passed
    do not change what is sent, and a value JSON cannot carry fails here, in the caller.
    """
    if method == "update_task":
        if len(args) != 1 or not isinstance(args[0], str):
            raise TypeError("update_task takes the task id, then fields as keywords")
        return Op(method, args[0], _copied({"fields": kwargs}))
    if method == "put_artifact":
        task_id, name, body = args
        return Op(method, str(task_id), _copied({"name": name, "body": body}))
    if method == "post_debug_sample":
        task_id, body = args
        return Op("debug_sample", str(task_id), _copied({"body": body}))
    if method == "set_input_model":
        task_id, model_id = args
        return Op(method, str(task_id), {"model_id": model_id})
    if method == "record_capture_warnings":
        task_id, warnings = args
        return Op(method, str(task_id), _copied({"warnings": list(warnings)}))
    if method in _SETTERS:
        name = _SETTERS[method]
        names = ("task_id", name, "replace")
        if len(args) > len(names) or set(kwargs) - set(names[len(args) :]):
            raise TypeError(f"{method} takes (task_id, {name}, replace=False)")
        bound = dict(zip(names, args, strict=False)) | kwargs
        if "task_id" not in bound or name not in bound:
            raise TypeError(f"{method} takes (task_id, {name}, replace=False)")
        payload = {name: bound[name], "replace": bool(bound.get("replace", False))}
        return Op(method, str(bound["task_id"]), _copied(payload))
    raise ValueError(
        f"cannot queue {method!r}; queued calls are: update_task, put_artifact, "
        f"post_debug_sample, set_input_model, record_capture_warnings, {', '.join(_SETTERS)}"
    )


def _copied(args: dict[str, Any]) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(args, allow_nan=False))
    return copy


def apply(client: WriteClient, op: Op, task_id: str | None = None) -> dict[str, Any]:
    """Make the call ``op`` records, against ``task_id`` (default: the op's own)."""
    target = op.task_id if task_id is None else task_id
    args = op.args
    if op.op == "scalars":
        return _post_scalars(client, target, args["series"], op.batch_id)
    if op.op == "console":
        return client.post_console(target, args["lines"], batch_id=op.batch_id)
    if op.op == "plots":
        return client.post_plots(target, args["plots"], batch_id=op.batch_id)
    if op.op == "update_task":
        return client.update_task(target, **args["fields"])
    if op.op in _SETTERS:
        setter = getattr(client, op.op)
        answer: dict[str, Any] = setter(target, args[_SETTERS[op.op]], replace=args["replace"])
        return answer
    if op.op == "create_task":
        return client.create_task(args["body"])
    if op.op == "put_artifact":
        return client.put_artifact(target, args["name"], args["body"])
    if op.op == "debug_sample":
        return client.post_debug_sample(target, args["body"])
    if op.op == "set_input_model":
        return client.set_input_model(target, args["model_id"])
    if op.op == "record_capture_warnings":
        return client.record_capture_warnings(target, args["warnings"])
    raise ValueError(f"unknown operation {op.op!r}")


def _post_scalars(
    client: WriteClient, task_id: str, series: list[dict[str, Any]], batch_id: str | None
) -> dict[str, Any]:
    """Post a batch; one the server finds too large (a server limit below the SDK's batch
    size) goes in halves, each under an id made from the batch's, so sending the whole
    again (a retry, a second sync) stores each half once."""
    try:
        return client.post_scalars(task_id, {"batch_id": batch_id, "series": series})
    except PayloadTooLarge:
        halves = halve_series(series)
        if halves is None or (batch_id is not None and len(batch_id) >= MAX_BATCH_ID_LENGTH):
            raise
    answers = [
        _post_scalars(client, task_id, half, None if batch_id is None else batch_id + letter)
        for half, letter in zip(halves, "ab", strict=True)
    ]
    return {
        "stored": sum(int(a.get("stored", 0)) for a in answers),
        "duplicate": all(a.get("duplicate") for a in answers),
    }


# ----- the file -------------------------------------------------------------------------


def append_ops(path: Path, ops: Iterable[Op]) -> int:
    """Append ``ops`` as whole lines, then flush and fsync; returns how many were written."""
    lines = [op.to_line() for op in ops]
    if not lines:
        return 0
    data = b"".join(lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab+") as handle:
        # A line cut short by a crash must not swallow the first new one.
        if handle.tell() > 0:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                data = b"\n" + data
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return len(lines)


def iter_ops(path: Path, start: int = 0) -> Iterator[tuple[int, Op]]:
    """``(line index, op)`` for each line from ``start`` on; damaged lines are skipped."""
    if not path.exists():
        return
    with path.open("rb") as handle:
        for index, line in enumerate(handle):
            if index < start or not line.strip():
                continue
            try:
                op = Op.from_line(line)
            except ValueError:
                if line.endswith(b"\n"):  # a last line without its newline is a cut write
                    print(f"tunelab: {path}:{index + 1}: damaged line skipped", file=sys.stderr)
                continue
            yield index, op


def count_ops(path: Path) -> int:
    return sum(1 for _ in iter_ops(path))


def drop_head(path: Path, lines: int) -> None:
    """Remove the first ``lines`` lines (already sent), atomically; empty leaves the file empty."""
    tmp = path.with_name(path.name + ".tmp")
    with path.open("rb") as src, tmp.open("wb") as dst:
        for index, line in enumerate(src):
            if index >= lines:
                dst.write(line)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(tmp, path)


def truncate(path: Path) -> None:
    with path.open("wb") as handle:
        handle.flush()
        os.fsync(handle.fileno())


# ----- sync progress --------------------------------------------------------------------


def progress_path(target: Path) -> Path:
    """``FOLDER/synced.json`` for an offline folder, ``FILE.synced.json`` beside a spool file."""
    return (
        target / "synced.json"
        if target.is_dir()
        else target.with_name(target.name + ".synced.json")
    )


def read_progress(target: Path) -> dict[str, Any]:
    """``{local_id: server_id, ..., "done_lines": N}``; empty when nothing was synced."""
    path = progress_path(target)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read sync progress {path}: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"cannot read sync progress {path}: not a JSON object")
    return data


def write_progress(target: Path, progress: Mapping[str, Any]) -> None:
    path = progress_path(target)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(dict(progress), indent=1))
    os.replace(tmp, path)
