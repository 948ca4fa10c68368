"""What the Hypothesis fuzzes share: how many examples and which seed (``TUNELAB_FUZZ_EXAMPLES``,
``TUNELAB_FUZZ_SEED``), and one run of examples for one target (a route, a command)."""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable

import hypothesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st

SEED = int(os.environ.get("TUNELAB_FUZZ_SEED", "0"))


def examples(default: int) -> int:
    """Examples per target: a few in CI, more when ``TUNELAB_FUZZ_EXAMPLES`` asks."""
    return int(os.environ.get("TUNELAB_FUZZ_EXAMPLES", str(default)))


def fuzz(target: str, count: int, check: Callable[[st.DataObject], None]) -> int:
    """Run ``check`` on ``count`` examples drawn for ``target``; the number of runs. The
    seed is the target's own (one seed for all would send every target the same values)
    plus ``TUNELAB_FUZZ_SEED``, so a run repeats; a failure is shrunk and raised."""
    runs = 0

    @hypothesis.settings(
        max_examples=count,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate, Phase.shrink],
        report_multiple_bugs=False,
    )
    @hypothesis.given(data=st.data())
    def run(data: st.DataObject) -> None:
        nonlocal runs
        runs += 1
        check(data)

    hypothesis.seed(zlib.crc32(target.encode()) + SEED)(run)()
    return runs
