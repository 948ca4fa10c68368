"""Tunelab's own requests stay out of the user's logs.

A script that logs at INFO or DEBUG would otherwise see a line for every batch the SDK sends
("httpx: HTTP Request: POST .../scalars/frame"), and botocore's or fsspec's chatter for every
artifact upload. Everything Tunelab sends runs inside ``own_request()``; a filter on the
libraries' loggers drops the records made inside it, and only those: the user's own httpx
or boto3 calls log exactly as the user configured them. ``TUNELAB_DEBUG=1`` keeps them all::

    with own_request():
        http.request("POST", url)      # its httpx/httpcore records are dropped

The marker is a context variable, so it follows a request into fsspec's event-loop thread
(``asyncio.run_coroutine_threadsafe`` copies the caller's context) and no further.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

DEBUG_VARIABLE = "TUNELAB_DEBUG"
# The libraries Tunelab talks through (their loggers' top-level names).
LIBRARIES = (
    "httpx",
    "httpcore",
    "h11",
    "h2",
    "hpack",
    "urllib3",
    "botocore",
    "aiobotocore",
    "boto3",
    "s3transfer",
    "s3fs",
    "fsspec",
    "gcsfs",
    "google",
    "adlfs",
    "azure",
    "aiohttp",
    "asyncio",  # fsspec's event loop, made on a first upload
)
# Tunelab's own loggers in a recorded run.
_SDK_LOGGERS = ("tunelab", "tunelab.sdk", "tunelab.storage")
# Storage back ends imported on a first upload: their loggers are filtered once they exist.
_BACK_ENDS = ("s3fs", "gcsfs", "adlfs", "botocore", "urllib3", "fsspec")

_inside: ContextVar[bool] = ContextVar("tunelab_own_request", default=False)
_lock = threading.Lock()
_seen = 0  # how many loggers existed at the last scan
_installed = False  # only a recorded run filters (not the server, the CLI or an agent)


@contextmanager
def own_request() -> Iterator[None]:
    """Mark what runs in the block as Tunelab's own network traffic."""
    if _installed and _seen != len(logging.Logger.manager.loggerDict):
        _attach()  # a library imported since the last request brought loggers
    token = _inside.set(True)
    try:
        yield
    finally:
        _inside.reset(token)


class OwnRequestFilter(logging.Filter):
    """Drops the records a library makes during Tunelab's own requests, and Tunelab's own
    records below WARNING (a warning on the ``tunelab`` logger is meant for the user)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _debug():
            return True
        if _sdk_logger(record.name):
            return record.levelno >= logging.WARNING
        return not _inside.get()


_filter = OwnRequestFilter()


def install() -> None:
    """Filter the loggers that exist now, and those the storage back ends bring later."""
    global _installed
    _installed = True
    _attach()
    from tunelab.sdk.capture.import_hooks import when_imported

    for name in _BACK_ENDS:
        when_imported(name, lambda _module: _attach())


def _attach() -> None:
    global _seen
    with _lock:
        names = list(logging.Logger.manager.loggerDict)
        for name in [*names, *LIBRARIES, *_SDK_LOGGERS]:
            if _ours(name):
                logger = logging.getLogger(name)
                if _filter not in logger.filters:
                    logger.addFilter(_filter)
        _seen = len(logging.Logger.manager.loggerDict)


def _ours(name: str) -> bool:
    return name.split(".", 1)[0] in LIBRARIES or _sdk_logger(name)


def _sdk_logger(name: str) -> bool:
    # The server's, the agent's and the store's loggers are not the SDK's chatter.
    if name == "tunelab":
        return True
    return any(name == sdk or name.startswith(sdk + ".") for sdk in _SDK_LOGGERS[1:])


def _debug() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "").strip().lower() not in ("", "0", "false", "no", "off")
