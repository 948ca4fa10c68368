"""The ``docker run`` command of docker mode.

No Docker engine runs on the machines these tests run on, so this pins the exact command the
agent runs instead of running it: mounts, working dir, variables (a secret by name only), the
task's docker arguments, and the script that installs and then execs the entry point.
"""

from __future__ import annotations

from pathlib import Path

from tunelab.agent.docker import docker_command
from tunelab.agent.environment import sdk_package_dir, sdk_requirements


def test_the_exact_command(tmp_path: Path) -> None:
    work = tmp_path / "code"
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy==2.1.0\n# a comment\ntunelab==0.1.0\n")
    env = {
        "TUNELAB_TASK_ID": "t1",
        "TUNELAB_API_URL": "http://127.0.0.1:8080",
        "TUNELAB_API_TOKEN": "s3cret",
        "TUNELAB_AGENT": "1",
        "PYTHONUNBUFFERED": "1",
    }
    command = docker_command(
        "pytorch/pytorch:2.4.0",
        work,
        "train",
        "train/main.py",
        env,
        docker_arguments="--gpus all --shm-size '8g'",
        setup_script="apt-get update\napt-get install -y libgl1\n",
        requirements_file=requirements,
        sdk_dir=Path("/opt/agent/tunelab"),
    )
    pins = sdk_requirements(["numpy==2.1.0"])
    assert [p.split("==")[0] for p in pins] == [
        "click",
        "fsspec",
        "httpx",
        "nvidia-ml-py",
        "psutil",
        "pyyaml",
        "ruamel-yaml",
        "tomlkit",
    ]
    assert command == [
        "docker", "run", "--rm", "--network", "host",
        "-v", f"{work}:/workspace",
        "-v", f"{requirements}:/tmp/tunelab-requirements.txt:ro",
        "-v", "/opt/agent/tunelab:/opt/tunelab-sdk/tunelab:ro",
        "-w", "/workspace/train",
        "-e", "PYTHONPATH=/opt/tunelab-sdk",
        "-e", "PYTHONUNBUFFERED=1",
        "-e", "TUNELAB_AGENT=1",
        "-e", "TUNELAB_API_TOKEN",  # by name: docker copies it, `ps` never shows it
        "-e", "TUNELAB_API_URL=http://127.0.0.1:8080",
        "-e", "TUNELAB_TASK_ID=t1",
        "--gpus", "all", "--shm-size", "8g",
        "pytorch/pytorch:2.4.0",
        "bash", "-c",
        "set -e\n"
        "apt-get update\napt-get install -y libgl1\n"
        "python -m pip install --no-cache-dir --progress-bar=off "
        f"-r /tmp/tunelab-requirements.txt {' '.join(pins)}\n"
        "exec python main.py",
    ]  # fmt: skip


def test_the_smallest_command(tmp_path: Path) -> None:
    command = docker_command("python:3.11-slim", tmp_path, "", "my script.py", {})
    assert command[:9] == [
        "docker", "run", "--rm", "--network", "host",
        "-v", f"{tmp_path}:/workspace",
        "-v", f"{sdk_package_dir()}:/opt/tunelab-sdk/tunelab:ro",
    ]  # fmt: skip
    assert command[9:13] == ["-w", "/workspace", "-e", "PYTHONPATH=/opt/tunelab-sdk"]
    assert command[13:16] == ["python:3.11-slim", "bash", "-c"]
    script = command[16].splitlines()
    assert script[0] == "set -e"
    assert script[1].startswith("python -m pip install --no-cache-dir --progress-bar=off click==")
    assert " fsspec==" in script[1]  # what the SDK stores artifacts with
    assert script[2] == "exec python 'my script.py'"
