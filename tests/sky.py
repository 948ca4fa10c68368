"""SkyPilot for the cloud launcher's tests: the real ``skypilot`` from PyPI in an environment of
its own (``.venv-sky``: it pins its own uvicorn and click, which must not replace the
server's), and a home with a local AWS catalog, so SkyPilot checks instance types and prices
with no network.

``scripts/setup-venv`` creates ``.venv-sky``; a session that finds none creates it (uv, from
PyPI, a few seconds once uv's cache has the wheels) and keeps it for the next.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tunelab.launchers.cloud import SkyBridge

ROOT = Path(__file__).resolve().parent.parent
SKY_VENV = ROOT / ".venv-sky"
SKYPILOT = "skypilot==0.14.1"
# A few rows of SkyPilot's AWS catalog (its own columns; prices in dollars an hour).
AWS_CATALOG = """\
InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone
m5.xlarge,,,4.0,16.0,,0.192,0.07,us-east-1,use1-az1
m5.xlarge,,,4.0,16.0,,0.214,0.08,eu-west-1,euw1-az1
p4d.24xlarge,A100,8.0,96.0,1152.0,,32.7726,12.1,us-east-1,use1-az1
"""


def sky_python() -> Path:
    """``.venv-sky``'s Python, with SkyPilot in it; created when missing."""
    python = SKY_VENV / "bin" / "python"
    if python.exists() and _has_sky(python):
        return python
    uv = shutil.which("uv")
    if uv is None:
        raise RuntimeError("uv is needed to create .venv-sky (scripts/setup-venv installs it)")
    env = {**os.environ, "UV_NATIVE_TLS": "1"}
    subprocess.run(
        [uv, "venv", "--quiet", "--allow-existing", "--python", "python3", str(SKY_VENV)],
        check=True,
        env=env,
    )
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python), SKYPILOT],
        check=True,
        env=env,
    )
    return python


def _has_sky(python: Path) -> bool:
    # Its files, not an import: importing SkyPilot takes seconds.
    return any(SKY_VENV.glob("lib/python*/site-packages/sky/__init__.py"))


def sky_home(home: Path) -> Path:
    """A home whose SkyPilot catalog is local (fresh, so SkyPilot fetches nothing)."""
    catalogs = home / ".sky" / "catalogs" / "v8" / "aws"
    catalogs.mkdir(parents=True, exist_ok=True)
    (catalogs / "vms.csv").write_text(AWS_CATALOG)
    return home


@contextlib.contextmanager
def sky_bridge_in(home: Path) -> Iterator[SkyBridge]:
    """The real SkyPilot in its own process, its home ``home`` (a local catalog, no cloud
    credentials); closed after."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GOOGLE_"))}
    bridge = SkyBridge(str(sky_python()), {**env, "HOME": str(sky_home(home))})
    try:
        yield bridge
    finally:
        bridge.close()
