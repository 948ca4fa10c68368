"""The readings behind the system metrics, and the monitor's settings.

No GPU on the test machines: the NVML reader is driven through a stand-in object that
implements the pynvml functions it calls (nvmlInit, nvmlDeviceGetCount,
nvmlDeviceGetHandleByIndex, nvmlDeviceGetUtilizationRates, nvmlDeviceGetMemoryInfo,
nvmlDeviceGetTemperature, nvmlDeviceGetPowerUsage, nvmlDeviceGetUUID, nvmlShutdown) with
pynvml's units (bytes, milliwatts), so the series names and units it reports are checked
here; the psutil side reads this machine for real.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

from tunelab.domain import system_metrics as S
from tunelab.errors import ConfigError, InvalidInput
from tunelab.sdk import capture_warnings
from tunelab.sdk.resource_monitor import MonitorSettings, ResourceMonitor, monitor_settings
from tunelab.sdk.system_readings import GpuReader, MachineReader, open_gpu_reader

GIB = 1024**3


class NVMLError(Exception):
    pass


class StandInNvml:
    """pynvml's interface over two made-up GPUs (index 1 has no power sensor)."""

    NVMLError = NVMLError
    NVML_TEMPERATURE_GPU = 0

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.gpus = [
            {"uuid": "GPU-aaa", "util": 87, "used": 6 * GIB, "total": 24 * GIB, "temp": 71,
             "mw": 215_500},
            {"uuid": "GPU-bbb", "util": 3, "used": 1 * GIB, "total": 16 * GIB, "temp": 40,
             "mw": None},
        ]  # fmt: skip

    def nvmlInit(self) -> None:
        self.calls.append("init")

    def nvmlShutdown(self) -> None:
        self.calls.append("shutdown")

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> dict[str, Any]:
        return self.gpus[index]

    def nvmlDeviceGetUUID(self, handle: dict[str, Any]) -> str:
        return str(handle["uuid"])

    def nvmlDeviceGetUtilizationRates(self, handle: dict[str, Any]) -> SimpleNamespace:
        return SimpleNamespace(gpu=handle["util"], memory=10)

    def nvmlDeviceGetMemoryInfo(self, handle: dict[str, Any]) -> SimpleNamespace:
        used, total = handle["used"], handle["total"]
        return SimpleNamespace(used=used, total=total, free=total - used)

    def nvmlDeviceGetTemperature(self, handle: dict[str, Any], sensor: int) -> int:
        assert sensor == self.NVML_TEMPERATURE_GPU
        return int(handle["temp"])

    def nvmlDeviceGetPowerUsage(self, handle: dict[str, Any]) -> int:
        if handle["mw"] is None:
            raise NVMLError("Not Supported")
        return int(handle["mw"])


def test_gpu_series_names_and_units() -> None:
    nvml = StandInNvml()
    reading = GpuReader(nvml, environ={}).read()
    assert reading == {
        "gpu_0_utilization": 87.0,
        "gpu_0_mem_usage": 25.0,
        "gpu_0_mem_used_gb": 6.0,
        "gpu_0_mem_free_gb": 18.0,
        "gpu_0_temperature": 71.0,
        "gpu_0_power_draw": 215.5,  # watts
        "gpu_1_utilization": 3.0,
        "gpu_1_mem_usage": 6.25,
        "gpu_1_mem_used_gb": 1.0,
        "gpu_1_mem_free_gb": 15.0,
        "gpu_1_temperature": 40.0,
        # no power sensor on GPU 1: left out, the rest goes on
    }
    assert set(reading) <= {S.gpu_series(i, r) for i in (0, 1) for r in S.GPU_READINGS}


@pytest.mark.parametrize("visible", ["1", "GPU-bbb"])
def test_only_the_visible_gpus_keep_their_index(visible: str) -> None:
    reader = GpuReader(StandInNvml(), environ={"CUDA_VISIBLE_DEVICES": visible})
    assert {key.split("_")[1] for key in reader.read()} == {"1"}


def test_the_monitor_reports_gpus_under_their_own_title() -> None:
    nvml = StandInNvml()
    got: list[tuple[str, str, float, int]] = []
    reported = threading.Event()

    def report(title: str, series: str, value: float, iteration: int) -> None:
        got.append((title, series, value, iteration))
        reported.set()

    settings = MonitorSettings(
        sample_frequency_per_sec=20,
        report_frequency_sec=0.2,
        wait_for_first_iteration_to_start_sec=0,
    )
    monitor = ResourceMonitor(
        settings,
        lambda: (MachineReader(psutil), GpuReader(nvml, environ={})),
        report=report,
        last_iteration=lambda: 0,
        user_reported=lambda: False,
        log=lambda line: None,
    )
    monitor.start()
    assert reported.wait(10)
    monitor.stop()
    assert nvml.calls == ["init", "shutdown"]
    titles = {series: title for title, series, _, _ in got}
    assert titles["gpu_0_utilization"] == S.TITLE_GPU
    assert titles["gpu_1_temperature"] == S.TITLE_GPU
    assert titles[S.CPU_USAGE] == S.TITLE_MACHINE
    values = {series: value for _, series, value, _ in got}
    assert values["gpu_0_power_draw"] == 215.5


def test_no_driver_means_no_gpu_reader() -> None:
    # No NVIDIA driver here: pynvml is not even imported.
    reader, why = open_gpu_reader()
    assert (reader, why) == (None, "no NVIDIA driver")
    # Had the driver's folder been there: nvidia-ml-py is installed, NVIDIA's library is not.
    reader, why = open_gpu_reader(driver_paths=("/",))
    assert reader is None and why.startswith("NVML is not available")


def test_the_machine_reader_reads_this_machine() -> None:
    reader = MachineReader(psutil)
    sum(i * i for i in range(200_000))
    reading = reader.read()
    total = psutil.virtual_memory().total / GIB
    assert 0 <= reading[S.CPU_USAGE] <= 100
    # This process alone: more than nothing, less than the machine.
    assert 0 < reading[S.MEMORY_USED_GB] < total
    assert 0 < reading[S.MEMORY_FREE_GB] < total
    assert 0 <= reading[S.DISK_FREE_PERCENT] <= 100
    whole = MachineReader(psutil, whole_machine=True).read()[S.MEMORY_USED_GB]
    assert reading[S.MEMORY_USED_GB] < whole < total


def test_settings_from_the_argument_and_the_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[resource_monitoring]\nreport_frequency_sec = 10\n")
    env = {"TUNELAB_CONFIG_FILE": str(config)}
    assert monitor_settings(False, env) is None
    assert monitor_settings(True, env) == MonitorSettings(report_frequency_sec=10)
    # The argument wins; ClearML's other spelling of first_report_sec is taken.
    chosen = monitor_settings({"report_frequency_sec": 5, "report_start_sec": 1}, env)
    assert chosen == MonitorSettings(report_frequency_sec=5, first_report_sec=1)
    assert monitor_settings(True, {**env, "TUNELAB_RESOURCE_MONITORING": "off"}) is None
    with pytest.raises(InvalidInput, match="unknown key 'sample_rate'"):
        monitor_settings({"sample_rate": 3}, env)
    with pytest.raises(InvalidInput, match="sample_frequency_per_sec must be a positive"):
        monitor_settings({"sample_frequency_per_sec": 0}, env)
    config.write_text('[resource_monitoring]\nreport_frequency_sec = "often"\n')
    with pytest.raises(ConfigError, match="report_frequency_sec must be a number"):
        monitor_settings(True, env)


class FailingReader:
    def read(self) -> dict[str, float]:
        raise OSError("no /proc here")


def test_a_failing_monitor_is_a_warning_of_the_run_never_the_scripts() -> None:
    recorded: list[dict[str, Any]] = []
    capture_warnings.connect(recorded.append)
    try:
        monitor = ResourceMonitor(
            MonitorSettings(sample_frequency_per_sec=20, report_frequency_sec=0.1),
            lambda: (FailingReader(), None),
            report=lambda *point: None,
            last_iteration=lambda: 0,
            user_reported=lambda: False,
            log=lambda line: None,
        )
        monitor.start()
        monitor.stop(timeout=10)
    finally:
        capture_warnings.disconnect()
    assert [(w["what"], w["reason"]) for w in recorded] == [
        ("the system metrics", "OSError: no /proc here")
    ]
