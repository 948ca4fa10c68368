"""``task.get_logger()``: scalars, single values and text, sent in the background.

Example::

    logger = task.get_logger()
    for i in range(100):
        logger.report_scalar("loss", "train", value=1 / (i + 1), iteration=i)
    logger.report_single_value("accuracy", 0.93)
    logger.report_text("done")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

# report_single_value lands here, as ClearML users know it.
SUMMARY_METRIC = "Summary"


class Logger:
    def __init__(
        self,
        add_scalar: Callable[[str, str, float, int], None],
        add_console: Callable[[str, str], None],
        echo: Callable[[], TextIO],
    ) -> None:
        # Bound once: report_scalar is the training loop's hot path (about a microsecond).
        self._add_scalar = add_scalar
        self._add_console = add_console
        self._echo = echo

    def report_scalar(self, title: str, series: str, value: float, iteration: int) -> None:
        """Record one point of the ``title``/``series`` curve; returns at once."""
        self._add_scalar(title, series, value, iteration)

    def report_single_value(self, name: str, value: float) -> None:
        """A single number for the run (a final accuracy, a test score)."""
        self._add_scalar(SUMMARY_METRIC, name, float(value), 0)

    def report_text(self, msg: str) -> None:
        """A line in the task's console (and on the local terminal)."""
        text = str(msg)
        out = self._echo()
        out.write(text + "\n")
        out.flush()
        for line in text.split("\n"):
            self._add_console("log", line)

    def flush(self) -> None:
        """Kept for ClearML compatibility; sending happens in the background."""
