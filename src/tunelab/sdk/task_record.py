"""A task's name, tags, comment and single hyperparameters, under ClearML's names.
Mixed into ``Task``.

Example::

    task.set_name("baseline, lr 0.1")
    task.add_tags(["resnet"])
    task.set_comment("first try")
    task.set_parameter("Args/lr", 0.1, description="learning rate")
    lr = task.get_parameter("Args/lr", cast=True)    # 0.1, a float again
    task.delete_parameter("Args/old_flag")
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tunelab.sdk import parameters as P
from tunelab.sdk.clearml_names import missing_attribute

if TYPE_CHECKING:
    from tunelab.sdk.logger import Logger
    from tunelab.sdk.run_session import RunSession


class TaskRecord:
    _client: Any
    _data: dict[str, Any]
    _session: RunSession | None

    if TYPE_CHECKING:

        @property
        def id(self) -> str: ...
        @property
        def project(self) -> str: ...
        def get_logger(self) -> Logger: ...
        def _inputs(self, field: str) -> dict[str, Any]: ...
        def _write(self, method: str, payload: Any, *, replace: bool) -> None: ...

    # ----- identity, tags, comment ---------------------------------------------------------

    @property
    def logger(self) -> Logger:
        """The run's logger (``task.get_logger()``)."""
        return self.get_logger()

    def get_project_name(self) -> str:
        return self.project

    def set_name(self, name: str) -> None:
        self._update(name=str(name))

    def get_tags(self) -> list[str]:
        return list(self._field("tags") or [])

    def add_tags(self, tags: str | Iterable[str]) -> None:
        """Add ``tags`` (one or several) to the task's tags; tags it has stay."""
        current = self.get_tags()
        self._update(tags=current + [t for t in _tag_list(tags) if t not in current])

    def set_tags(self, tags: Iterable[str]) -> None:
        """Replace the task's tags."""
        self._update(tags=list(dict.fromkeys(_tag_list(tags))))

    def get_comment(self) -> str:
        return str(self._field("comment") or "")

    def set_comment(self, comment: str) -> None:
        self._update(comment=str(comment))

    def _update(self, **fields: Any) -> None:
        self._data.update(fields)
        if self._session is not None:
            self._session.call("update_task", self.id, **fields)
        else:
            self._data = self._client.update_task(self.id, **fields)

    def _field(self, name: str) -> Any:
        # A task read from the server is read again; the run's own task knows its state.
        if self._session is None and hasattr(self._client, "get_task"):
            self._data = self._client.get_task(self.id)
        return self._data.get(name)

    # ----- single hyperparameters ----------------------------------------------------------

    def get_parameter(self, name: str, default: Any = None, cast: bool = False) -> Any:
        """The value of hyperparameter ``name`` (``"Section/name"``), or ``default``.

        With ``cast``, the value as the type it was recorded with (int, float, bool, list,
        dict...); otherwise its text.
        """
        section, key = P.split_key(name)
        body = self._inputs("hyperparameters").get(section, {}).get(key)
        if body is None:
            return default
        return cast_value(body) if cast else body["value"]

    def set_parameter(
        self,
        name: str,
        value: Any,
        description: str | None = None,
        value_type: type | str | None = None,
    ) -> None:
        """Set one hyperparameter (``"Section/name"``; no section: ``General``), keeping
        the others. ``value_type`` records another type than the value's own."""
        section, key = P.split_key(name)
        body = P.param_body(value, description or "")
        if value_type is not None:
            body["type"] = value_type.__name__ if isinstance(value_type, type) else value_type
        self._data.setdefault("hyperparameters", {}).setdefault(section, {})[key] = body
        self._write("set_hyperparameters", {section: {key: body}}, replace=False)

    def delete_parameter(self, name: str) -> bool:
        """Delete hyperparameter ``name``; False when the task has no such parameter."""
        section, key = P.split_key(name)
        params = self._inputs("hyperparameters").get(section, {})
        if key not in params:
            return False
        del params[key]
        self._write("set_hyperparameters", {section: {key: None}}, replace=False)
        return True

    def __getattr__(self, name: str) -> Any:
        # Only names found nowhere else land here: ClearML's get an answer saying what to use.
        raise missing_attribute(type(self).__name__, name)


def cast_value(body: dict[str, Any]) -> Any:
    """A stored parameter's text as the type it was recorded with; the text when it is not
    one (an edit typed another kind of value)."""
    text = str(body.get("value", ""))
    try:
        return P.cast_text(text, None, str(body.get("type") or "str"))
    except ValueError:
        return text


def _tag_list(tags: str | Iterable[str]) -> list[str]:
    return [tags] if isinstance(tags, str) else [str(t) for t in tags]
