"""A task's Python environment: built with ``uv`` once per (Python, requirements), then reused.

The cache key is the SHA-256 of the interpreter's version, the task's requirements
(normalized and sorted) and the agent's Tunelab version, so an unchanged task starts at once
and any change builds a new environment. An environment is built in a temporary directory,
marked complete (the marker file is written last) and renamed into place: a half-built one is
never reused, and agents sharing the cache build a given environment once (a file lock).

The Tunelab SDK in the environment is the agent's own: its runtime dependencies (read from the
installed distribution's metadata) are installed at the versions the agent runs with, with the
storage back end the task's destination needs (s3fs, gcsfs, adlfs), and a ``.pth`` file puts
the agent's ``tunelab`` package on the path, so no wheel is built and requirements naming
``tunelab`` are skipped. uv resolves them together with the task's requirements.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Callable
from pathlib import Path

import tunelab
from tunelab.agent.errors import AgentError

Log = Callable[[str], None]

READY_MARKER = ".tunelab-env-ready"
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
# The distribution's extra that holds the fsspec back end of each object-store scheme.
STORAGE_EXTRAS = {"s3": "s3", "gs": "gcs", "azure": "azure"}


def distribution_name(line: str) -> str:
    """The normalized project name a requirement line names ('' for options and URLs)."""
    match = _NAME.match(line)
    if not match or line.lstrip().startswith(("-", "git+", "http:", "https:", "file:")):
        return ""
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def normalized_requirements(requirements: str) -> list[str]:
    """Requirement lines without comments, blanks, duplicates or ``tunelab``; sorted."""
    lines = set()
    for raw in requirements.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if line and distribution_name(line) != "tunelab":
            lines.add(line)
    return sorted(lines, key=lambda line: (distribution_name(line), line))


def sdk_requirements(requirements: list[str], output_uri: str = "") -> list[str]:
    """What the SDK needs in a task's environment: its runtime dependencies, and the storage
    back end of ``output_uri``'s scheme; pinned as the agent has them (a dependency the agent
    lacks keeps its declared range). The task's own lines win.

    >>> sdk_requirements(["numpy==2.1.0"], "s3://bucket/runs")  # doctest: +SKIP
    ['click==8.1.8', 'fsspec==2025.3.0', 'httpx==0.28.1', 'pyyaml==6.0.2', 's3fs==2025.3.0']
    """
    named = {distribution_name(line) for line in requirements}
    extra = STORAGE_EXTRAS.get(
        output_uri.partition("://")[0].lower() if "://" in output_uri else ""
    )
    pins: dict[str, str] = {}
    for declared in importlib.metadata.requires("tunelab") or []:
        spec, _, marker = declared.partition(";")
        if marker.strip() and marker.replace(" ", "").replace('"', "'") != f"extra=='{extra}'":
            continue  # another extra (server, dev) or a platform condition
        name = distribution_name(spec)
        if not name or name in named or name in pins:
            continue
        try:
            pins[name] = f"{name}=={importlib.metadata.version(name)}"
        except importlib.metadata.PackageNotFoundError:
            pins[name] = spec.strip()
    return [pins[name] for name in sorted(pins)]


def sdk_package_dir() -> Path:
    """The directory of the agent's own ``tunelab`` package."""
    return Path(tunelab.__file__).resolve().parent


class EnvironmentBuilder:
    """Builds task environments under ``cache_dir``; ``installer`` is "uv" or "pip".

    >>> envs = EnvironmentBuilder(Path("~/.tunelab/agent/envs").expanduser())
    >>> python = envs.build("numpy==2.1.0\\n", log=print)  # doctest: +SKIP
    """

    def __init__(
        self, cache_dir: Path, python: str = sys.executable, installer: str = "uv"
    ) -> None:
        if installer not in ("uv", "pip"):
            raise ValueError(f"installer must be 'uv' or 'pip', not {installer!r}")
        self.cache_dir = Path(cache_dir)
        self.python = python
        self.installer = installer
        self._python_version: str | None = None

    def key(self, requirements: str, output_uri: str = "") -> str:
        task_lines = normalized_requirements(requirements)
        material = {
            "python": self.python_version(),
            "requirements": task_lines,
            "sdk_requirements": sdk_requirements(task_lines, output_uri),
            "tunelab": tunelab.__version__,
            "sdk": str(sdk_package_dir()),
            "installer": self.installer,
        }
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()

    def python_version(self) -> str:
        if self._python_version is None:
            if Path(self.python) == Path(sys.executable):
                self._python_version = f"{sys.implementation.cache_tag} {sys.version}"
            else:
                probe = "import sys; print(sys.implementation.cache_tag, sys.version)"
                done = subprocess.run(
                    [self.python, "-c", probe], capture_output=True, text=True, check=False
                )
                if done.returncode != 0:
                    raise AgentError(f"cannot run the Python {self.python}: {done.stderr.strip()}")
                self._python_version = done.stdout.strip()
        return self._python_version

    def build(self, requirements: str, log: Log, output_uri: str = "") -> Path:
        """The python of an environment holding ``requirements`` and the Tunelab SDK with
        what it needs to store files at ``output_uri``."""
        key = self.key(requirements, output_uri)
        env_dir = self.cache_dir / key[:24]
        if (env_dir / READY_MARKER).is_file():
            log(f"tunelab agent: reusing the cached environment {env_dir}")
            return _python_in(env_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with open(self.cache_dir / f"{key[:24]}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another agent may be building this one
            if (env_dir / READY_MARKER).is_file():
                log(f"tunelab agent: reusing the environment another agent built: {env_dir}")
                return _python_in(env_dir)
            if env_dir.exists():
                shutil.rmtree(env_dir)  # left half-built by a crash: never reused
            lines = normalized_requirements(requirements)
            self._build_into(env_dir, [*lines, *sdk_requirements(lines, output_uri)], log)
        return _python_in(env_dir)

    def _build_into(self, env_dir: Path, wanted: list[str], log: Log) -> None:
        scratch = Path(tempfile.mkdtemp(prefix=f".{env_dir.name}-", dir=self.cache_dir))
        try:
            venv = scratch / "env"
            log(f"tunelab agent: building a new environment with {self.installer}")
            req_file = scratch / "requirements.txt"
            req_file.write_text("".join(f"{line}\n" for line in wanted))
            if self.installer == "uv":
                self._run(["uv", "venv", "--relocatable", "--python", self.python, str(venv)], log)
                install = ["uv", "pip", "install", "--python", str(_python_in(venv))]
            else:
                self._run([self.python, "-m", "venv", str(venv)], log)
                install = [str(_python_in(venv)), "-m", "pip", "install", "--progress-bar=off"]
            self._run([*install, "-r", str(req_file)], log)
            self._link_sdk(venv)
            (venv / READY_MARKER).write_text(json.dumps({"requirements": wanted}, indent=1))
            os.rename(venv, env_dir)
            log(f"tunelab agent: environment ready: {env_dir}")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _link_sdk(self, venv: Path) -> None:
        # A folder holding only a link to the agent's package: pointing the .pth at the folder
        # that holds `tunelab` could put the agent's whole site-packages on the task's path.
        package = sdk_package_dir()
        holder = self.cache_dir / "sdk" / hashlib.sha256(str(package).encode()).hexdigest()[:16]
        if not (holder / "tunelab").exists():
            holder.mkdir(parents=True, exist_ok=True)
            temporary = holder / f".tunelab-{os.getpid()}"
            temporary.unlink(missing_ok=True)
            temporary.symlink_to(package, target_is_directory=True)
            os.replace(temporary, holder / "tunelab")
        probe = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        done = subprocess.run(
            [str(_python_in(venv)), "-c", probe], capture_output=True, text=True, check=True
        )
        (Path(done.stdout.strip()) / "tunelab_agent_sdk.pth").write_text(f"{holder}\n")

    def _run(self, command: list[str], log: Log) -> None:
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        # uv's own settings (index, certificates: UV_SYSTEM_CERTS...) come from the agent's
        # environment as the user set it; none is forced here, as a forced one that a later
        # uv deprecates would print its warning into every task's console.
        env.pop("VIRTUAL_ENV", None)  # the agent's own venv must not be the target
        tail: deque[str] = deque(maxlen=30)
        try:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
            )
        except OSError as exc:
            raise AgentError(f"cannot run {command[0]}: {exc}") from exc
        assert proc.stdout is not None
        with proc:
            for raw in proc.stdout:
                line = raw.decode(errors="replace").rstrip()
                tail.append(line)
                log(line)
        if proc.returncode != 0:
            shown = " ".join(command[:3])
            message = "\n".join(line for line in tail if line.strip())
            raise AgentError(f"{shown} failed (exit {proc.returncode}):\n{message}")


def _python_in(venv: Path) -> Path:
    return venv / "bin" / "python"
