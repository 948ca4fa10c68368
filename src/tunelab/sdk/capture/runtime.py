"""The machine a run happens on: host, OS, Python, CPUs, memory and GPUs, and the OS user
the run runs as.

Every probe is best effort: a missing ``/proc/meminfo`` or ``nvidia-smi`` leaves its field
empty, and ``nvidia-smi`` gets a few seconds at most, so a wedged driver cannot hold up
``Task.init``.
"""

from __future__ import annotations

import getpass
import os
import platform
import shutil
import socket
import subprocess
from pathlib import Path

from tunelab.domain.task import Runtime

NVIDIA_SMI_TIMEOUT = 5.0
_GIB = 1024**3


def capture_runtime() -> Runtime:
    """What ``Runtime`` the current process runs in.

    >>> capture_runtime().python  # doctest: +SKIP
    '3.11.7'
    """
    return Runtime(
        host=socket.gethostname(),
        os=platform.platform(),
        python=platform.python_version(),
        cpu_count=os.cpu_count() or 0,
        memory_gb=round(total_memory_bytes() / _GIB, 2),
        gpus=gpu_names(),
        os_user=os_user(),
    )


def os_user() -> str:
    """The login name the process runs as (``LOGNAME``/``USER``, else the password
    database); empty when neither knows it (a container's uid without an entry)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return ""


def total_memory_bytes() -> int:
    """Physical memory from ``/proc/meminfo`` (Linux), else ``sysconf``; 0 when unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024  # the kernel writes kB, meaning KiB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return 0


def gpu_names(timeout: float = NVIDIA_SMI_TIMEOUT) -> tuple[str, ...]:
    """One name per NVIDIA GPU, as ``nvidia-smi`` lists them; empty without it."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return ()
    try:
        done = subprocess.run(
            [smi, "--query-gpu=name", "--format=csv,noheader"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(line.strip() for line in done.stdout.splitlines() if line.strip())
