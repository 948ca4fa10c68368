"""A task's configuration objects (a dict, an OmegaConf config or a file, stored whole as
text), under ClearML's names. Mixed into ``Task``.

Example::

    task.connect_configuration({"layers": [64, 32]}, name="model")
    task.connect_configuration("configs/train.yaml", name="train")
    text = task.get_configuration_object("model")
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunelab.domain.task import SECTION_GENERAL
from tunelab.errors import InvalidInput
from tunelab.sdk import parameters as P
from tunelab.sdk import remote
from tunelab.sdk.capture import hydra_config
from tunelab.sdk.capture_warnings import warn


class TaskConfiguration:
    _data: dict[str, Any]
    _remote: bool

    if TYPE_CHECKING:

        def _inputs(self, field: str) -> dict[str, Any]: ...
        def _write(self, method: str, payload: Any, *, replace: bool) -> None: ...

    def connect_configuration(
        self, configuration: Any, name: str = SECTION_GENERAL, description: str | None = None
    ) -> Any:
        """Store a dict, an OmegaConf ``DictConfig``/``ListConfig`` (as YAML) or a
        configuration file whole, as text. Returns ``configuration``.

        Under an agent, returns the stored configuration instead: the same dict refilled,
        a new ``DictConfig``/``ListConfig``, or the path of a temporary file with the
        stored text.
        """
        stored = self._data.get("configuration", {}).get(name) if self._remote else None
        if stored is not None:
            if hydra_config.is_omegaconf(configuration):
                return hydra_config.from_text(stored.get("text", ""), configuration)
            return remote.configuration(configuration, stored)
        if hydra_config.is_omegaconf(configuration):
            text, kind = hydra_config.to_yaml(configuration), hydra_config.CONFIG_TYPE
        elif isinstance(configuration, Mapping):
            text, kind = _dict_text(configuration, name)
        elif isinstance(configuration, (str, Path)):
            path = Path(configuration)
            if not path.is_file():
                raise InvalidInput(f"configuration file {str(path)!r} does not exist")
            text, kind = path.read_text(), path.suffix.lstrip(".") or "text"
        else:
            raise InvalidInput("connect_configuration takes a dict or a file path")
        self._set_configuration(name, text, kind, description or "")
        return configuration

    def set_configuration_object(
        self,
        name: str,
        config_text: str | None = None,
        config_dict: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> None:
        if config_dict is not None:
            text, kind = _dict_text(config_dict, name)
        else:
            text, kind = config_text or "", "text"
        self._set_configuration(name, text, kind, description or "")

    def get_configuration_object(self, name: str) -> str | None:
        """The stored text of configuration ``name``, or None."""
        obj = self._inputs("configuration").get(name)
        return None if obj is None else str(obj["text"])

    def _set_configuration(self, name: str, text: str, kind: str, description: str) -> None:
        body = {"type": kind, "text": text, "description": description}
        self._data.setdefault("configuration", {})[name] = body
        self._write("set_configuration", {name: body}, replace=False)


def _dict_text(config: Mapping[str, Any], name: str) -> tuple[str, str]:
    """A configuration dict as JSON text; one JSON cannot write (it holds itself, a key is a
    tuple) is kept as its ``repr``, of kind ``text``, with a capture warning."""
    try:
        return json.dumps(config, indent=2, default=str), "dictionary"
    except (TypeError, ValueError, RecursionError) as exc:
        warn(f"the configuration object {name!r} as JSON", f"{exc}; stored as its repr")
        return P.as_text(config), "text"
