"""System metrics: the machine's and the GPUs' readings a run records beside its own scalars.

The SDK's resource monitor reports them as scalars under ClearML's titles (``:monitor:machine``
and ``:monitor:gpu``) and series names (``cpu_usage``, ``gpu_0_utilization``...). Pages and
tables keep them apart from the user's metrics: after them, never in their place.

>>> is_system_metric(":monitor:gpu")
True
>>> user_metrics_first([(":monitor:machine", "cpu_usage"), ("loss", "train")])
[('loss', 'train'), (':monitor:machine', 'cpu_usage')]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

MONITOR_PREFIX = ":monitor:"
TITLE_MACHINE = ":monitor:machine"
TITLE_GPU = ":monitor:gpu"

# Machine series (ClearML's names and units).
CPU_USAGE = "cpu_usage"  # % of all cores, averaged
CPU_TEMPERATURE = "cpu_temperature"  # °C, the hottest core
MEMORY_USED_GB = "memory_used_gb"  # GiB: the run's process tree (or the machine's, if asked)
MEMORY_FREE_GB = "memory_free_gb"  # GiB the machine has available
DISK_FREE_PERCENT = "disk_free_percent"  # % free on the home directory's disk
IO_READ_MBS = "io_read_mbs"  # MiB/s read from disks
IO_WRITE_MBS = "io_write_mbs"  # MiB/s written
NETWORK_RX_MBS = "network_rx_mbs"  # MiB/s received
NETWORK_TX_MBS = "network_tx_mbs"  # MiB/s sent

# Per GPU ``gpu_{index}_{reading}``: utilization %, mem_usage %, mem_used_gb and mem_free_gb
# GiB, temperature °C, power_draw W.
GPU_READINGS = (
    "utilization",
    "mem_usage",
    "mem_used_gb",
    "mem_free_gb",
    "temperature",
    "power_draw",
)

N = TypeVar("N", bound=tuple[str, str])


def is_system_metric(metric: str) -> bool:
    return metric.startswith(MONITOR_PREFIX)


def gpu_series(index: int, reading: str) -> str:
    return f"gpu_{index}_{reading}"


def user_metrics_first(names: Iterable[N]) -> list[N]:
    """(metric, variant) names sorted, the user's before the system's."""
    return sorted(names, key=lambda name: (is_system_metric(name[0]), name))
