"""System metrics of a run: a thread that samples the machine and its GPUs and reports the
averages as scalars, as ClearML's resource monitor does.

``Task.init(auto_resource_monitoring=True)`` (the default) starts it; ``False`` leaves it
off; a dict changes its periods::

    Task.init(project_name="p", task_name="t",
              auto_resource_monitoring={"sample_frequency_per_sec": 2, "report_frequency_sec": 10})

Every ``1 / sample_frequency_per_sec`` seconds (1 s) it takes a sample (``system_readings``);
every ``report_frequency_sec`` seconds (30 s) it hands the averages to the reporter under
``:monitor:machine`` (``cpu_usage``, ``memory_used_gb``...) and ``:monitor:gpu``
(``gpu_0_utilization``...). Their x axis is ClearML's: the script's last iteration once it
reports any; seconds from the start if it has reported none after
``wait_for_first_iteration_to_start_sec`` (180 s), and back to iterations if it starts to,
within ``max_wait_for_first_iteration_to_start_sec`` (1800 s).

The config file may set the same keys in a ``[resource_monitoring]`` table (``enabled =
false`` turns it off, as ``TUNELAB_RESOURCE_MONITORING=0`` does); Task.init's dict wins.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from time import monotonic
from typing import Any, Protocol

from tunelab.domain.system_metrics import TITLE_GPU, TITLE_MACHINE
from tunelab.errors import ConfigError, InvalidInput
from tunelab.sdk.capture_warnings import guarded
from tunelab.sdk.config import _as_bool, config_file_path, read_config_tables

WHAT = "the system metrics"
CONFIG_TABLE = "resource_monitoring"
ENV_SWITCH = "TUNELAB_RESOURCE_MONITORING"
# ClearML's spellings of the same keys.
_ALIASES = {
    "report_start_sec": "first_report_sec",
    "seconds_from_start": "first_report_sec",
}
# After this many failed GPU samples in a row the GPU part is switched off.
_GPU_FAILURES = 3


@dataclass(frozen=True)
class MonitorSettings:
    sample_frequency_per_sec: float = 1.0
    report_frequency_sec: float = 30.0
    first_report_sec: float | None = None  # the first report's period (default: the usual)
    wait_for_first_iteration_to_start_sec: float = 180.0
    max_wait_for_first_iteration_to_start_sec: float = 1800.0
    report_global_mem_used: bool = False  # the machine's used memory, not the run's

    def with_values(self, values: Mapping[str, Any], where: str) -> MonitorSettings:
        """These settings changed by ``values`` (ClearML's key names); InvalidInput naming
        ``where`` and the key for an unknown key or a bad value."""
        known = {f.name for f in fields(self)}
        changes: dict[str, Any] = {}
        for raw_key, value in values.items():
            key = _ALIASES.get(raw_key, raw_key)
            if key not in known:
                raise InvalidInput(
                    f"{where}: unknown key {raw_key!r}; known keys: {', '.join(sorted(known))}"
                )
            changes[key] = _checked(key, value, where)
        return replace(self, **changes)

    @property
    def first_period(self) -> float:
        return self.report_frequency_sec if self.first_report_sec is None else self.first_report_sec


def _checked(key: str, value: Any, where: str) -> Any:
    if key == "report_global_mem_used":
        try:
            return _as_bool(value)
        except ValueError as exc:
            raise InvalidInput(f"{where}: {key} {exc}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{where}: {key} must be a number, got {value!r}")
    number = float(value)
    positive = key in {"sample_frequency_per_sec", "report_frequency_sec"}
    if number != number or number < 0 or (positive and number == 0) or number == float("inf"):
        raise InvalidInput(f"{where}: {key} must be a positive number, got {value!r}")
    return number


def monitor_settings(
    argument: bool | Mapping[str, Any], environ: Mapping[str, str] = os.environ
) -> MonitorSettings | None:
    """What ``Task.init(auto_resource_monitoring=...)`` asks for with this config: the
    settings, or None for no monitor. Raises for a bad key or value (before the run starts)."""
    if argument is False:
        return None
    path = config_file_path(environ)
    table = dict(read_config_tables(path).get(CONFIG_TABLE) or {})
    enabled = table.pop("enabled", True)
    switch = environ.get(ENV_SWITCH, "")
    try:
        enabled = _as_bool(switch) if switch else _as_bool(enabled)
    except ValueError as exc:
        where = ENV_SWITCH if switch else f"{path}: [{CONFIG_TABLE}] enabled"
        raise ConfigError(f"{where} {exc}", {"key": "enabled", "source": where}) from None
    try:
        settings = MonitorSettings().with_values(table, f"{path}: [{CONFIG_TABLE}]")
    except InvalidInput as exc:
        raise ConfigError(exc.message, {"path": str(path)}) from None
    if isinstance(argument, Mapping):
        return settings.with_values(argument, "auto_resource_monitoring")
    if argument is not True:
        raise InvalidInput("auto_resource_monitoring takes True, False or a dict of settings")
    return settings if enabled else None


class Reader(Protocol):
    def read(self) -> dict[str, float]: ...


class ResourceMonitor:
    """The sampling thread. ``open_readers()`` gives the machine's reader and the GPUs' (or
    None), on the thread: loading NVML never delays the script. ``report(title, series,
    value, iteration)`` is the reporter's ``add_scalar``; ``last_iteration()`` the highest
    iteration the script reported; ``user_reported()`` whether it reported any scalar;
    ``log(line)`` a line for the task's console."""

    def __init__(
        self,
        settings: MonitorSettings,
        open_readers: Callable[[], tuple[Reader, Reader | None]],
        *,
        report: Callable[[str, str, float, int], None],
        last_iteration: Callable[[], int],
        user_reported: Callable[[], bool],
        log: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self._open_readers = open_readers
        self._machine: Reader | None = None
        self._gpus: Reader | None = None
        self._report = report
        self._last_iteration = last_iteration
        self._user_reported = user_reported
        self._log = log
        self._sums: dict[str, float] = {}
        self._count = 0
        self._previous: dict[str, float] = {}
        self._previous_at = monotonic()
        self._gpu_failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tunelab-monitor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """End the thread (the run is closing); what was not reported yet is left out, as
        ClearML does."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        closing = getattr(self._gpus, "close", None)
        if closing is not None:
            with guarded(WHAT):
                closing()

    # ----- the thread -------------------------------------------------------------------

    def _run(self) -> None:
        with guarded(WHAT):  # a failure here is a warning of the run, never the script's
            self._machine, self._gpus = self._open_readers()
            self._loop()

    def _loop(self) -> None:
        s = self.settings
        wait = 1.0 / s.sample_frequency_per_sec
        running = 0.0  # seconds since the first sample
        reported = 0
        last_iteration = 0
        by_seconds: bool | None = None  # None: not decided yet, nothing reported meanwhile
        self._sample()  # the first sample starts the counters' differences
        self._clear()
        while True:
            started = monotonic()
            period = s.report_frequency_sec if reported else s.first_period
            while monotonic() - started < period:
                if self._stop.wait(wait):
                    return
                self._sample()
            running += monotonic() - started
            seconds = round(running)
            # ClearML's rule for the x axis.
            if by_seconds is None:
                if seconds >= s.wait_for_first_iteration_to_start_sec:
                    by_seconds = True
                    self._log(
                        "tunelab: no iterations reported; system metrics are reported "
                        "against seconds from the start"
                    )
            elif (
                by_seconds
                and seconds <= s.max_wait_for_first_iteration_to_start_sec
                and self._user_reported()
            ):
                by_seconds = False
                self._log("tunelab: iterations reported; system metrics follow them")
            clear = True
            if by_seconds:
                iteration = seconds
            else:
                iteration = self._last_iteration()
                if iteration <= last_iteration:
                    # No new iteration: report at the last one again, averaged over longer.
                    clear = False
                    iteration = last_iteration
                else:
                    last_iteration = iteration
                    by_seconds = False
            if by_seconds is not None:
                self._send(iteration)
                if clear:
                    self._clear()
            reported += 1

    def _sample(self) -> None:
        assert self._machine is not None  # opened before the loop
        sample = self._machine.read()
        if self._gpus is not None:
            try:
                sample.update(self._gpus.read())
                self._gpu_failures = 0
            except Exception as exc:
                self._gpu_failures += 1
                if self._gpu_failures >= _GPU_FAILURES:
                    self._gpus = None
                    self._log(f"tunelab: GPU monitoring stopped: {type(exc).__name__}: {exc}")
        now = monotonic()
        elapsed = max(now - self._previous_at, 1e-6)
        self._previous_at = now
        for key, value in sample.items():
            if key.endswith("_mbs"):  # a counter: its rate since the last sample
                rate = (value - self._previous.get(key, value)) / elapsed
                self._sums[key] = self._sums.get(key, 0.0) + max(rate, 0.0)
            else:
                self._sums[key] = self._sums.get(key, 0.0) + value
        self._count += 1
        self._previous = sample

    def _clear(self) -> None:
        self._sums = {}
        self._count = 0

    def _send(self, iteration: int) -> None:
        if not self._count:
            return
        for key, total in self._sums.items():
            title = TITLE_GPU if key.startswith("gpu_") else TITLE_MACHINE
            self._report(title, key, round(total / self._count, 3), iteration)


def start_monitor(session: Any, settings: MonitorSettings) -> ResourceMonitor:
    """Start the monitor of the run ``session`` (a RunSession); it stops when the run closes.
    psutil and NVML are imported by its thread, not by ``import tunelab``."""
    reporter = session.reporter

    def log(line: str) -> None:
        with guarded("the console output"):  # a console that fails is its own warning
            reporter.add_console("log", line)

    def open_readers() -> tuple[Reader, Reader | None]:
        import psutil  # type: ignore[import-untyped]

        from tunelab.sdk.system_readings import MachineReader, open_gpu_reader

        machine = MachineReader(
            psutil,
            whole_machine=settings.report_global_mem_used,
            tree_every=settings.report_frequency_sec,
        )
        gpus, why_not = open_gpu_reader()
        if gpus is None:
            log(f"tunelab: GPU monitoring is off: {why_not}")
        return machine, gpus

    monitor = ResourceMonitor(
        settings,
        open_readers,
        report=reporter.add_scalar,
        last_iteration=reporter.last_iteration,
        user_reported=reporter.user_reported,
        log=log,
    )
    session.before_close.insert(0, monitor.stop)
    monitor.start()
    return monitor
