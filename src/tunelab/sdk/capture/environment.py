"""Environment variables recorded as ``Environment`` hyperparameters.

Which ones is a list of names and shell-style patterns (``AWS_*``, ``*_VERSION``, ``*``), from
the SDK config's ``log_os_environments``, unless ``TUNELAB_LOG_ENVIRONMENT`` is set: that
comma-separated list always wins, and set but empty it records nothing::

    patterns = environment_patterns(config.log_os_environments, os.environ)
    task_parameters += capture_environment(patterns)

A variable whose name looks secret (``*TOKEN*``, ``*KEY*``... see ``tunelab.sdk.secrets``) is
recorded as ``********``, and the secrets' values are masked inside the others' values: the
name tells the run had it, the value stays on the machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase

from tunelab.domain.task import SECTION_ENVIRONMENT, Parameter
from tunelab.sdk.secrets import environment_masker, mask_value

LOG_ENVIRONMENT_VARIABLE = "TUNELAB_LOG_ENVIRONMENT"


def environment_patterns(
    config_patterns: Iterable[str], environ: Mapping[str, str] = os.environ
) -> list[str]:
    """The patterns in force: ``TUNELAB_LOG_ENVIRONMENT`` when set, else the config's."""
    override = environ.get(LOG_ENVIRONMENT_VARIABLE)
    chosen = override.split(",") if override is not None else config_patterns
    return [pattern.strip() for pattern in chosen if pattern.strip()]


def capture_environment(
    patterns: Iterable[str], environ: Mapping[str, str] = os.environ
) -> list[Parameter]:
    """The variables whose names match any pattern (case-sensitive), sorted by name, with
    secrets masked."""
    wanted = [p for p in patterns if p]
    names = [n for n in sorted(environ) if any(fnmatchcase(n, p) for p in wanted)]
    if not names:
        return []
    masker = environment_masker(environ)
    return [
        Parameter(
            section=SECTION_ENVIRONMENT,
            name=name,
            value=mask_value(name, environ[name], masker),
            type="str",
        )
        for name in names
    ]
