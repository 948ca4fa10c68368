"""The ``docker run`` command that runs a task in a container instead of a local environment.

The task's work dir is mounted at ``/workspace``; the task's requirements file and the agent's
own ``tunelab`` package are mounted read-only beside it, and the container installs the
requirements and the SDK's dependencies with pip before running the entry point. The script
is started with ``exec`` so that it, not bash, is the container's first process and receives
the SIGTERM that ``docker run`` passes on when the agent stops the task.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from tunelab.agent.environment import normalized_requirements, sdk_package_dir, sdk_requirements
from tunelab.agent.launcher import entry_point_argument
from tunelab.sdk.secrets import is_secret_name

WORKSPACE = PurePosixPath("/workspace")
CONTAINER_REQUIREMENTS = "/tmp/tunelab-requirements.txt"
CONTAINER_SDK = "/opt/tunelab-sdk"
DEFAULT_IMAGE = "python:3.11-slim"


def docker_command(
    image: str,
    work_dir: Path,
    working_dir: str,
    entry_point: str,
    env: Mapping[str, str],
    docker_arguments: str = "",
    setup_script: str = "",
    requirements_file: Path | None = None,
    *,
    sdk_dir: Path | None = None,
    output_uri: str = "",
) -> list[str]:
    """``docker run --rm --network host -v <work_dir>:/workspace ... IMAGE bash -c <script>``.

    ``env`` holds the task's variables (``TUNELAB_TASK_ID``, ``TUNELAB_API_URL``...); the
    process running this command must have the secret ones in its own environment too.
    """
    sdk = Path(sdk_dir) if sdk_dir is not None else sdk_package_dir()
    workdir = WORKSPACE / working_dir if working_dir not in ("", ".") else WORKSPACE
    command = ["docker", "run", "--rm", "--network", "host"]
    command += ["-v", f"{Path(work_dir).resolve()}:{WORKSPACE}"]
    requirements: list[str] = []
    if requirements_file is not None:
        command += ["-v", f"{Path(requirements_file).resolve()}:{CONTAINER_REQUIREMENTS}:ro"]
        requirements = normalized_requirements(Path(requirements_file).read_text())
    command += ["-v", f"{sdk}:{CONTAINER_SDK}/tunelab:ro", "-w", str(workdir)]
    for name, value in sorted({**env, "PYTHONPATH": CONTAINER_SDK}.items()):
        # A secret goes by name only (`-e NAME`): docker copies the value from its own
        # environment, so it never shows in the process list nor in a logged command line.
        command += ["-e", name if is_secret_name(name) else f"{name}={value}"]
    command += shlex.split(docker_arguments)
    install = ["python", "-m", "pip", "install", "--no-cache-dir", "--progress-bar=off"]
    if requirements_file is not None:
        install += ["-r", CONTAINER_REQUIREMENTS]
    install += sdk_requirements(requirements, output_uri)
    script = [
        "set -e",
        *([setup_script.strip()] if setup_script.strip() else []),
        shlex.join(install),
        shlex.join(["exec", "python", entry_point_argument(entry_point, working_dir)]),
    ]
    return [*command, image, "bash", "-c", "\n".join(script)]
