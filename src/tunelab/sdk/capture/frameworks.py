"""``Task.init(auto_connect_frameworks=...)``: which frameworks a run captures on its own.

As in ClearML, True (the default) captures all of them, False none, and a dict names those
to switch off (or on); a framework it does not name is captured::

    Task.init(auto_connect_frameworks={"matplotlib": False})   # all but matplotlib
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# A framework's value may be its own settings (a dict): captured, with those settings.
Setting = bool | Mapping[str, Any]


def enabled(setting: Setting, framework: str) -> bool:
    """Whether ``framework`` (``"matplotlib"``, ``"tensorboard"``…) is captured."""
    if isinstance(setting, Mapping):
        return bool(setting.get(framework, True))
    return bool(setting)
