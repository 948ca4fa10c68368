"""capture_runtime on this machine, with nvidia-smi absent, present and failing."""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path

import pytest

from tunelab.sdk.capture import capture_runtime


def put_nvidia_smi(folder: Path, script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder.mkdir()
    smi = folder / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\n{script}\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))


def test_describes_this_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    runtime = capture_runtime()

    assert runtime.host == socket.gethostname()
    assert runtime.os == platform.platform()
    assert runtime.python == platform.python_version()
    assert runtime.cpu_count == os.cpu_count()
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    assert runtime.memory_gb == pytest.approx(physical, rel=0.05)
    assert runtime.gpus == ()


def test_lists_gpus_from_nvidia_smi(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    lines = r"NVIDIA A100-SXM4-80GB\nNVIDIA A100-SXM4-80GB\n\nTesla T4"
    put_nvidia_smi(
        tmp_path / "bin", f'[ "$1" = --query-gpu=name ] && printf "{lines}\\n"', monkeypatch
    )

    assert capture_runtime().gpus == ("NVIDIA A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB", "Tesla T4")


def test_a_failing_nvidia_smi_means_no_gpus(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    put_nvidia_smi(tmp_path / "bin", 'echo "NVIDIA-SMI has failed" >&2; exit 9', monkeypatch)

    assert capture_runtime().gpus == ()
