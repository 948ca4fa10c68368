"""The options of ``tunelab launcher --backend cloud`` and the back end they make.

Example::

    tunelab launcher --queue cloud --backend cloud --max-jobs 4 \\
        --setup "pip install tunelab==1.4" --idle-minutes 5 --spot-relaunches 1 \\
        --sky-python ~/.venvs/sky/bin/python
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from tunelab.launchers.cloud_task import DEFAULT_SETUP

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = [
    click.option(
        "--sky-python",
        default="",
        metavar="PYTHON",
        help="Cloud: a Python that has SkyPilot (skypilot) installed [default: this one, "
        "with tunelab[cloud]].",
    ),
    click.option(
        "--setup",
        "sky_setup",
        default=DEFAULT_SETUP,
        show_default=True,
        help="Cloud: the commands that install tunelab on a new instance (SkyPilot's setup).",
    ),
    click.option(
        "--idle-minutes",
        type=click.IntRange(1),
        default=5,
        show_default=True,
        help="Cloud: minutes an instance stays after its job ends before it is torn down.",
    ),
    click.option(
        "--spot-relaunches",
        type=click.IntRange(0),
        default=1,
        show_default=True,
        help="Cloud: times a preempted spot instance is launched again before its task "
        "fails 'preempted'.",
    ),
]


def cloud_options(command: F) -> F:
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def cloud_backend(options: Mapping[str, Any]) -> Any:
    """The Cloud back end the options ask for."""
    from tunelab.launchers.cloud import Cloud, SkyBridge

    return Cloud(
        SkyBridge(options["sky_python"]),
        setup=options["sky_setup"],
        idle_minutes=options["idle_minutes"],
        spot_relaunches=options["spot_relaunches"],
    )
