"""The batch script the Slurm back end writes, and Slurm's states in the task's words."""

from __future__ import annotations

from pathlib import Path

from tunelab.domain.resources import Resources
from tunelab.launchers.base import JobRequest
from tunelab.launchers.slurm import Slurm, job_state


def test_the_batch_script_asks_for_the_resources_and_holds_no_key(tmp_path: Path) -> None:
    slurm = Slurm(tmp_path, partition="gpu", account="ml", extra=["--qos=normal", "--exclusive"])
    wanted = Resources.from_dict(
        {"gpus": 2, "gpu_type": "a100", "cpus": 8, "memory": "1.5G", "time_limit": "90s",
         "cloud": "aws"}
    )  # fmt: skip
    job = JobRequest("abc", "train", wanted, ["tunelab", "agent", "execute", "--id", "abc"],
                     {"TUNELAB_API_TOKEN": "tlt_secret"})  # fmt: skip
    lines = slurm.script(job).splitlines()
    assert lines[0] == "#!/bin/bash"
    assert [line for line in lines if line.startswith("#SBATCH")][3:] == [
        "#SBATCH --partition=gpu",
        "#SBATCH --account=ml",
        "#SBATCH --gres=gpu:a100:2",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=1536M",
        "#SBATCH --time=2",  # whole minutes, rounded up
        "#SBATCH --qos=normal",
        "#SBATCH --exclusive",
    ]
    assert lines[-1] == "exec tunelab agent execute --id abc"
    assert "tlt_secret" not in slurm.script(job)
    plain = JobRequest("abc", "train", Resources(), ["tunelab"], {})
    assert not any(
        "--gres" in line or "--mem" in line for line in Slurm(tmp_path).script(plain).splitlines()
    )


def test_slurm_states_in_the_tasks_words() -> None:
    assert job_state("PENDING", "Resources").finished is False
    assert job_state("RUNNING", "None").reason == ""
    words = ("TIMEOUT", "OUT_OF_MEMORY", "PREEMPTED", "NODE_FAIL", "COMPLETED", "FAILED")
    ended = {word: job_state(word).failure for word in words}
    assert ended == {
        "TIMEOUT": "time limit", "OUT_OF_MEMORY": "out of memory", "PREEMPTED": "preempted",
        "NODE_FAIL": "node failure", "COMPLETED": "", "FAILED": "",
    }  # fmt: skip
    assert job_state("CANCELLED by 0", "None", "0:15").failure == "cancelled in Slurm"
    assert job_state("FAILED", "NonZeroExitCode", "1:0").exit_code == "1:0"
    assert job_state("COMPLETED", "None", "0:0").exit_code == ""
