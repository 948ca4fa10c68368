"""Noticing model files a script saves with ``joblib.dump`` or ``torch.save``.

``install_model_capture`` wraps both functions, now when the library is already imported,
otherwise as soon as the script imports it; each save to a file name is then reported::

    uninstall = install_model_capture(lambda path, framework: print(path, framework))
    joblib.dump(model, "model.joblib")      # prints /abs/path/model.joblib ScikitLearn
    torch.save(net.state_dict(), "net.pt")  # prints /abs/path/net.pt PyTorch
    uninstall()

Neither library is imported here. A name bound before install (``from joblib import dump``)
keeps the original function and is not seen.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import os
import sys
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from tunelab.sdk.capture_warnings import guarded, warn

ModelSaved = Callable[[Path, str], None]


@dataclass(frozen=True)
class _Target:
    module: str
    function: str
    framework: str
    file_argument: str  # the keyword name of the second parameter, where the file goes


# scikit-learn's docs persist estimators with joblib: ClearML names what it saves "ScikitLearn"
# (XGBoost's and LightGBM's scikit-learn estimators their own, see _framework).
TARGETS = (
    _Target("joblib", "dump", "ScikitLearn", "filename"),
    _Target("torch", "save", "PyTorch", "f"),
)
_BY_MODULE = {target.module: target for target in TARGETS}
_ORIGINAL = "__tunelab_original__"


@dataclass
class _State:
    on_saved: ModelSaved | None = None
    modules: frozenset[str] = frozenset(_BY_MODULE)
    finder: _ImportFinder | None = None
    patched: list[tuple[ModuleType, str, Any]] = field(default_factory=list)


_state = _State()
_lock = threading.RLock()


def install_model_capture(
    on_saved: ModelSaved, modules: Collection[str] = tuple(_BY_MODULE)
) -> Callable[[], None]:
    """Report ``on_saved(absolute_path, framework)`` after each save to a file; returns uninstall.

    >>> uninstall = install_model_capture(lambda path, fw: print(fw, path))  # doctest: +SKIP
    >>> joblib.dump(model, "model.joblib")                                 # doctest: +SKIP
    ScikitLearn /home/me/run/model.joblib

    ``modules``: the libraries watched (``"joblib"``, ``"torch"``). Installing again only
    swaps the callback and the libraries watched; the functions are wrapped once.
    """
    with _lock:
        _state.on_saved = on_saved
        _state.modules = frozenset(modules)
        if _state.finder is None:
            _state.finder = _ImportFinder()
            sys.meta_path.insert(0, _state.finder)
        for target in TARGETS:
            if target.module not in _state.modules:
                continue
            module = sys.modules.get(target.module)
            if module is not None and hasattr(module, target.function):
                _patch(module, target)
    return uninstall_model_capture


def uninstall_model_capture() -> None:
    """Put the original functions back and stop watching imports (safe to call twice)."""
    with _lock:
        _state.on_saved = None
        if _state.finder is not None and _state.finder in sys.meta_path:
            sys.meta_path.remove(_state.finder)
        _state.finder = None
        for module, name, original in reversed(_state.patched):
            # Someone may have wrapped our wrapper since; theirs stays, ours no longer reports.
            if getattr(getattr(module, name, None), _ORIGINAL, None) is original:
                setattr(module, name, original)
        _state.patched.clear()


def _patch(module: ModuleType, target: _Target) -> None:
    with _lock:
        original = getattr(module, target.function, None)
        if original is None or hasattr(original, _ORIGINAL):
            return  # missing, or wrapped already
        setattr(module, target.function, _wrap(original, target))
        _state.patched.append((module, target.function, original))


def _wrap(original: Callable[..., Any], target: _Target) -> Callable[..., Any]:
    what = f"the model saved with {target.module}.{target.function}"

    @functools.wraps(original)
    def save(*args: Any, **kwargs: Any) -> Any:
        path: Path | None = None
        with guarded(what):
            destination = args[1] if len(args) > 1 else kwargs.get(target.file_argument)
            # Resolved before saving, as the file name the user meant from the current folder.
            path = _file_path(destination)
        result = original(*args, **kwargs)
        with guarded(f"the model {path}" if path is not None else what):
            on_saved = _state.on_saved  # the user's save has succeeded; never fail it
            watched = target.module in _state.modules
            if path is not None and on_saved is not None and watched and path.is_file():
                on_saved(path, _framework(target, args[0] if args else kwargs.get("value")))
        return result

    setattr(save, _ORIGINAL, original)
    return save


def _framework(target: _Target, saved: Any) -> str:
    """As ClearML: a joblib file is named after the library of the object saved in it."""
    if target.module == "joblib":
        library = (getattr(type(saved), "__module__", None) or "").partition(".")[0]
        return _JOBLIB_FRAMEWORKS.get(library, target.framework)
    return target.framework


_JOBLIB_FRAMEWORKS = {"xgboost": "XGBoost", "lightgbm": "LightGBM"}


def _file_path(destination: Any) -> Path | None:
    # Only a file name: an open file or buffer may still be written to after the call
    # returns, so its content is not known to be final.
    if isinstance(destination, str | bytes | os.PathLike):
        text = os.fsdecode(destination)
        return Path(text).absolute() if text else None
    return None


class _ImportFinder(importlib.abc.MetaPathFinder):
    """Wraps a target library's function right after the library's module has run."""

    def __init__(self) -> None:
        self._searching = threading.local()

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        wanted = _BY_MODULE.get(fullname)
        if (
            wanted is None
            or fullname not in _state.modules
            or getattr(self._searching, "active", False)
        ):
            return None
        # Ask the other finders for the real spec (find_spec would come back here).
        self._searching.active = True
        try:
            spec = None
            for finder in list(sys.meta_path):
                if finder is not self and hasattr(finder, "find_spec"):
                    spec = finder.find_spec(fullname, path, target)
                    if spec is not None:
                        break
        finally:
            self._searching.active = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _PatchingLoader(spec.loader, wanted)
        return spec


class _PatchingLoader(importlib.abc.Loader):
    """Runs the module with its own loader, then wraps the target function."""

    def __init__(self, loader: importlib.abc.Loader, target: _Target) -> None:
        self.loader = loader
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The module (and code reading its resources) sees its real loader, not this one.
        spec = module.__spec__
        if spec is not None and spec.loader is self:
            spec.loader = self.loader
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self.loader
        self.loader.exec_module(module)
        if _state.on_saved is not None:
            try:  # the import itself has succeeded: a failed wrap only loses the capture
                _patch(module, self.target)
            except Exception as exc:
                warn(f"the models saved with {self.target.module}", exc)
