"""Run a patch when a framework is imported, whether that happens before or after Tunelab.

Frameworks are patched (Hydra, Fire, absl, jsonargparse…) only in processes that use them, and
never imported by Tunelab itself (``import tunelab`` stays light)::

    when_imported("fire", patch_fire)      # now if fire is imported, else right after it is

The callback runs once per module, after the module has executed, inside ``guarded``: a patch
that raises is a capture warning, and the import the script asked for still succeeds.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from tunelab.sdk.capture_warnings import guarded

Patch = Callable[[ModuleType], None]

_lock = threading.RLock()
_waiting: dict[str, list[Patch]] = {}
_done: set[tuple[str, int]] = set()


def when_imported(name: str, patch: Patch) -> None:
    """Call ``patch(module)`` once ``name`` is imported (at once if it already is)."""
    with _lock:
        module = sys.modules.get(name)
        if module is None or getattr(module, "__spec__", None) is None:
            _waiting.setdefault(name, []).append(patch)
            _install()
            return
    _run(name, module, patch)


def _run(name: str, module: ModuleType, patch: Patch) -> None:
    key = (name, id(patch))
    with _lock:
        if key in _done:
            return
        _done.add(key)
    with guarded(f"the {name.split('.')[0]} integration"):
        patch(module)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loader of a waited-for module to run its patches."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _waiting:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec: importlib.machinery.ModuleSpec | None = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Loader(spec.loader)
                return spec
        return None


class _Loader(importlib.abc.Loader):
    def __init__(self, wrapped: Any) -> None:
        self._wrapped = wrapped

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._wrapped.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        self._wrapped.exec_module(module)
        with _lock:
            patches = _waiting.pop(module.__name__, [])
        for patch in patches:
            _run(module.__name__, module, patch)

    def __getattr__(self, name: str) -> Any:
        # get_resource_reader, is_package, get_code… as the real loader has them.
        return getattr(self._wrapped, name)


_finder = _Finder()


def _install() -> None:
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
