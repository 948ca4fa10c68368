"""Tunelab's domain: plain dataclasses, enums and pure functions.

No I/O and no third-party imports: the SDK imports this inside users' training
environments, and the server builds its answers from the same types.
"""

from tunelab.domain.task import (
    ConfigurationObject,
    Execution,
    Parameter,
    Runtime,
    TaskRecord,
    TaskStatus,
    TaskType,
)

__all__ = [
    "ConfigurationObject",
    "Execution",
    "Parameter",
    "Runtime",
    "TaskRecord",
    "TaskStatus",
    "TaskType",
]
