"""One sample of the machine (psutil) and of its NVIDIA GPUs (NVML), as series -> value.

Counters that only grow (bytes read, written, sent, received) are returned as MiB totals
under their ``_mbs`` series; the monitor turns two samples into a rate. Everything here is
read by the monitor's thread, never by the training loop.

Example::

    machine = MachineReader(psutil)
    gpus = open_gpu_reader()          # None without nvidia-ml-py, a driver or a GPU
    sample = {**machine.read(), **(gpus.read() if gpus else {})}
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from time import monotonic
from typing import Any

from tunelab.domain import system_metrics as S

_DRIVER_PATHS = ("/proc/driver/nvidia", "/dev/dxg")
_MIB = 1024.0**2
_GIB = 1024.0**3


class MachineReader:
    """CPU, memory, disk and network of this machine; memory of this process and its
    children (``whole_machine``: the machine's used memory instead, as ClearML's
    ``report_global_mem_used``)."""

    def __init__(
        self, psutil: Any, *, whole_machine: bool = False, tree_every: float = 30.0
    ) -> None:
        self._psutil = psutil
        self._whole_machine = whole_machine
        self._home = str(Path.home())
        self._me = psutil.Process()
        # Finding the children walks every process of the machine: done once a report period,
        # while the tree's memory is read every sample.
        self._tree: list[Any] = []
        self._tree_at = -float("inf")
        self._tree_every = tree_every
        self._cpu_before = _cpu_busy(psutil.cpu_times())
        self._temperature = hasattr(psutil, "sensors_temperatures")

    def read(self) -> dict[str, float]:
        p = self._psutil
        stats: dict[str, float] = {S.CPU_USAGE: self._cpu_usage()}
        memory = p.virtual_memory()
        used = memory.used if self._whole_machine else self._tree_memory()
        stats[S.MEMORY_USED_GB] = used / _GIB
        stats[S.MEMORY_FREE_GB] = memory.available / _GIB
        stats[S.DISK_FREE_PERCENT] = 100.0 - p.disk_usage(self._home).percent
        if self._temperature:
            self._read_temperature(stats)
        # Counters may be refused (containers, permissions): the rest still counts.
        try:
            net = p.net_io_counters()
            stats[S.NETWORK_TX_MBS] = net.bytes_sent / _MIB
            stats[S.NETWORK_RX_MBS] = net.bytes_recv / _MIB
        except Exception:
            pass
        try:
            disk = p.disk_io_counters()
            stats[S.IO_READ_MBS] = disk.read_bytes / _MIB
            stats[S.IO_WRITE_MBS] = disk.write_bytes / _MIB
        except Exception:
            pass
        return stats

    def _cpu_usage(self) -> float:
        # Our own difference of cpu_times, not psutil.cpu_percent(): that one keeps its last
        # reading in psutil's module, which the user's code may call too.
        total, busy = _cpu_busy(self._psutil.cpu_times())
        before_total, before_busy = self._cpu_before
        self._cpu_before = (total, busy)
        elapsed = total - before_total
        if elapsed <= 0:
            return 0.0
        return min(100.0, max(0.0, 100.0 * (busy - before_busy) / elapsed))

    def _tree_memory(self) -> float:
        now = monotonic()
        if now - self._tree_at >= self._tree_every:
            self._tree_at = now
            try:
                self._tree = self._me.children(recursive=True)
            except Exception:
                self._tree = []
        rss = 0
        for process in [self._me, *self._tree]:
            try:
                rss += process.memory_info().rss
            except Exception:
                continue  # a child that ended since
        return float(rss)

    def _read_temperature(self, stats: dict[str, float]) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # psutil warns about unreadable sensors
            try:
                cores = self._psutil.sensors_temperatures().get("coretemp") or []
            except Exception:
                cores = []
        if cores:
            stats[S.CPU_TEMPERATURE] = max(float(t.current) for t in cores)
        else:
            self._temperature = False  # no such sensor here: stop asking


def _cpu_busy(times: Any) -> tuple[float, float]:
    total = float(sum(times))
    # On Linux guest time is counted in user time already.
    total -= getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    idle = times.idle + getattr(times, "iowait", 0.0)
    return total, total - idle


class GpuReader:
    """Readings of the NVIDIA GPUs through NVML: ``nvml`` is the ``pynvml`` module
    (nvidia-ml-py), or anything with the same functions. Only the GPUs named in
    ``CUDA_VISIBLE_DEVICES``/``NVIDIA_VISIBLE_DEVICES`` (indexes or UUIDs) when set; series
    keep the GPU's index on the machine, as ClearML's do."""

    def __init__(self, nvml: Any, environ: Mapping[str, str] | None = None) -> None:
        self._nvml = nvml
        nvml.nvmlInit()
        count = int(nvml.nvmlDeviceGetCount())
        handles = [(i, nvml.nvmlDeviceGetHandleByIndex(i)) for i in range(count)]
        visible = _visible_gpus(os.environ if environ is None else environ)
        self.gpus = [(i, h) for i, h in handles if visible is None or self._shown(i, h, visible)]
        # A reading the driver refuses for a GPU (utilization under MIG, power on some
        # boards) is left out from then on; the others go on.
        self._refused: set[tuple[int, str]] = set()

    def _shown(self, index: int, handle: Any, visible: set[str]) -> bool:
        if str(index) in visible:
            return True
        try:
            uuid = self._nvml.nvmlDeviceGetUUID(handle)
        except Exception:
            return False
        return (uuid.decode() if isinstance(uuid, bytes) else str(uuid)) in visible

    def read(self) -> dict[str, float]:
        stats: dict[str, float] = {}
        for index, handle in self.gpus:
            for reading, value in self._readings(handle):
                if (index, reading) in self._refused:
                    continue
                try:
                    stats.update({S.gpu_series(index, k): v for k, v in value().items()})
                except self._nvml.NVMLError:
                    self._refused.add((index, reading))
        return stats

    def _readings(self, handle: Any) -> list[tuple[str, Any]]:
        nvml = self._nvml

        def utilization() -> dict[str, float]:
            return {"utilization": float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)}

        def memory() -> dict[str, float]:
            info = nvml.nvmlDeviceGetMemoryInfo(handle)
            return {
                "mem_usage": 100.0 * info.used / info.total if info.total else 0.0,
                "mem_used_gb": info.used / _GIB,
                "mem_free_gb": (info.total - info.used) / _GIB,
            }

        def temperature() -> dict[str, float]:
            gpu = nvml.NVML_TEMPERATURE_GPU
            return {"temperature": float(nvml.nvmlDeviceGetTemperature(handle, gpu))}

        def power() -> dict[str, float]:  # NVML answers milliwatts
            return {"power_draw": nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0}

        return [
            ("utilization", utilization),
            ("memory", memory),
            ("temperature", temperature),
            ("power", power),
        ]

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the process ends soon anyway
            self._nvml.nvmlShutdown()


def _visible_gpus(environ: Mapping[str, str]) -> set[str] | None:
    for name in ("NVIDIA_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES"):
        value = environ.get(name, "").strip()
        if value and value != "all":
            return {part.strip() for part in value.split(",") if part.strip()}
    return None


def open_gpu_reader(driver_paths: tuple[str, ...] = _DRIVER_PATHS) -> tuple[GpuReader | None, str]:
    """The GPU reader, or None and why not (no nvidia-ml-py, no driver, no GPU).
    ``driver_paths``: where Linux shows NVIDIA's driver, one of them at least."""
    if sys.platform == "darwin" or (
        # Linux without NVIDIA's driver (WSL 2 has it behind /dev/dxg): importing pynvml
        # alone would cost a CPU-only run a fifth of a second.
        sys.platform.startswith("linux") and not any(map(os.path.exists, driver_paths))
    ):
        return None, "no NVIDIA driver"
    try:
        import pynvml  # type: ignore[import-untyped]
    except ImportError:
        return None, "nvidia-ml-py is not installed"
    try:
        reader = GpuReader(pynvml)
    except Exception as exc:  # NVMLError_LibraryNotFound, NVMLError_DriverNotLoaded...
        return None, f"NVML is not available ({exc})"
    if not reader.gpus:
        reader.close()
        return None, "no GPU found"
    return reader, ""
