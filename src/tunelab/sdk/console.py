"""Copying stdout and stderr to the task's console while still printing them locally.

Each line is masked (``tunelab.sdk.secrets``: the Tunelab token, secret variables' values)
before the sink sees it, so no secret is sent, spooled or recorded offline; the local terminal
still shows the line as printed.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

from tunelab.sdk.capture_warnings import warn
from tunelab.sdk.console_handlers import Redirected, redirect_handlers, restore_handlers
from tunelab.sdk.secrets import Masker, environment_masker

LineSink = Callable[[str, str], None]  # (stream, text)


class TeeStream:
    """Wraps a text stream: every complete line written also goes to ``sink``."""

    def __init__(
        self, original: TextIO, stream: str, sink: LineSink, masker: Masker | None = None
    ) -> None:
        self._original = original
        self._stream = stream
        self._sink = sink
        # None when there is nothing to hide: the hot path then pays nothing.
        self._mask = masker.mask_text if masker else None
        self._partial = ""
        # Re-entrant: a KeyboardInterrupt can land between taking the lock and the block
        # that releases it, and the exit path (same main thread) drains through it again.
        self._lock = threading.RLock()

    def write(self, text: str) -> int:
        # Recorded before it is shown: whoever reacts to the printed line (a Ctrl-C, a
        # parent process) finds this call already past its lock.
        failure: Exception | None = None
        if text:
            with self._lock:
                data = self._partial + text
                *lines, self._partial = data.split("\n")
            mask = self._mask
            try:
                for line in lines:
                    self._sink(self._stream, line if mask is None else mask(line))
            except Exception as exc:  # the script's own output is shown whatever happens here
                failure = exc
        written = self._original.write(text)
        if failure is not None:  # after the script's line, not in the middle of it
            warn("the console output", failure)
        return written

    def flush(self) -> None:
        self._original.flush()

    def drain(self) -> None:
        """Send a last unterminated line (at exit)."""
        with self._lock:
            rest, self._partial = self._partial, ""
        if rest:
            try:
                self._sink(self._stream, rest if self._mask is None else self._mask(rest))
            except Exception as exc:
                warn("the console output", exc)

    def __getattr__(self, name: str) -> Any:
        # isatty, fileno, encoding... behave as the wrapped stream does.
        return getattr(self._original, name)


class ConsoleCapture:
    """Installs tees on sys.stdout / sys.stderr; ``uninstall`` puts the originals back.

    The secrets to mask are read once, here (``masker``, by default from the process's
    environment and config): precompiled, since every printed line pays for them.
    """

    def __init__(self, sink: LineSink, masker: Masker | None = None) -> None:
        self._sink = sink
        self.masker = environment_masker() if masker is None else masker
        self._tees: list[tuple[str, TeeStream]] = []
        self._wrappers: dict[int, TeeStream] = {}
        self._redirected: Redirected = []

    def masked_sink(self, stream: str, text: str) -> None:
        """The sink with masking, for lines that reach the console without being printed
        (``Logger.report_text``)."""
        self._sink(stream, self.masker.mask_text(text))

    def install(self) -> None:
        if self._tees:
            return
        try:
            out = TeeStream(sys.stdout, "stdout", self._sink, self.masker)
            err = TeeStream(sys.stderr, "stderr", self._sink, self.masker)
        except Exception as exc:  # the script prints as it would without Tunelab
            warn("the console output", exc)
            return
        sys.stdout, sys.stderr = out, err
        self._tees = [("stdout", out), ("stderr", err)]
        # Handlers made before (basicConfig) still hold the streams just wrapped.
        self._wrappers = {id(out._original): out, id(err._original): err}
        self._redirected = redirect_handlers(self._wrappers)

    def uninstall(self) -> None:
        restore_handlers(self._redirected, self._wrappers)
        self._redirected = []
        for name, tee in self._tees:
            tee.drain()
            if getattr(sys, name) is tee:
                setattr(sys, name, tee._original)
        self._tees = []

    @property
    def original_stdout(self) -> TextIO:
        for name, tee in self._tees:
            if name == "stdout":
                return tee._original
        return sys.stdout
