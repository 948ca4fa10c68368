"""Log handlers made before the console capture write through it too.

``logging.basicConfig()`` before ``Task.init`` (the common order) makes a ``StreamHandler``
that holds the ``sys.stderr`` of that moment; replacing ``sys.stderr`` afterwards does not
reach it, so its lines would print but never reach the task's console. Each such handler,
on the root or on any named logger, is pointed at the capture's wrapper of the very stream
it held: the line is printed where it was and recorded once, and the handler gets its
stream back when the capture ends.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tunelab.sdk.capture_warnings import guarded

Redirected = list[tuple[logging.StreamHandler[Any], Any]]  # (handler, the stream it held)


def redirect_handlers(wrappers: Mapping[int, Any]) -> Redirected:
    """Point each stream handler holding a stream ``id`` of ``wrappers`` at its wrapper."""
    redirected: Redirected = []
    with guarded("the log handlers' output"):
        for handler in _stream_handlers():
            held = handler.stream
            wrapper = wrappers.get(id(held))
            if wrapper is not None:
                handler.setStream(wrapper)
                redirected.append((handler, held))
    return redirected


def restore_handlers(redirected: Redirected, wrappers: Mapping[int, Any]) -> None:
    """Give the handlers their streams back, unless someone set another one meanwhile."""
    ours = {id(wrapper) for wrapper in wrappers.values()}
    for handler, held in redirected:
        if id(handler.stream) in ours:
            with guarded("the log handlers' output"):
                handler.setStream(held)


def _stream_handlers() -> list[logging.StreamHandler[Any]]:
    loggers: list[logging.Logger] = [logging.getLogger()]
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):  # not a PlaceHolder
            loggers.append(logger)
    found: list[logging.StreamHandler[Any]] = []
    for logger in loggers:
        for handler in list(logger.handlers):
            # A FileHandler is a StreamHandler too, but its stream is never one we wrap.
            if isinstance(handler, logging.StreamHandler) and handler not in found:
                found.append(handler)
    return found
