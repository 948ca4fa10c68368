"""Slurm: ``sbatch`` a generated batch script, read states with ``squeue`` (live jobs) and
``sacct`` (ended ones; without slurmdbd, ``scontrol show job``), cancel with ``scancel``.

The batch script asks for the task's resources (``--gres=gpu[:type]:N``,
``--cpus-per-task``, ``--mem``, ``--time``) on the launcher's partition and account, with
the launcher's extra ``#SBATCH`` lines, and ``exec``s ``tunelab agent execute --id TASK``.
The task's key travels in the job's environment (``sbatch`` exports the environment it is
run with), never in the script, which Slurm keeps readable to its admins. A stop first
signals the job's processes (``scancel --signal=TERM --full``: the agent stops the script
with its grace period), then cancels the job after the grace period (Slurm's ``KillWait``
then ends what is left). A pending job is cancelled at once.

Example::

    slurm = Slurm(Path("/shared/tunelab"), partition="gpu", account="ml",
                  extra=["--qos=normal"])
    job_id = slurm.submit(JobRequest(task_id, "train", Resources(gpus=1), command, env))
    slurm.states([job_id])      # {"4242": JobState("PENDING", "Resources")}
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tunelab.domain.resources import Resources
from tunelab.launchers.base import JobRequest, JobState, LaunchError

# Slurm's states a job does not leave, and what each says of a task still running then.
ENDED = {
    "COMPLETED": "",
    "FAILED": "",
    "CANCELLED": "cancelled in Slurm",
    "TIMEOUT": "time limit",
    "OUT_OF_MEMORY": "out of memory",
    "PREEMPTED": "preempted",
    "NODE_FAIL": "node failure",
    "BOOT_FAIL": "the node failed to boot",
    "DEADLINE": "deadline",
    "SPECIAL_EXIT": "special exit",
}
COMMAND_TIMEOUT = 60.0
_JOB_ID = re.compile(r"^\d+(_\d+)?$")
_FIELD = re.compile(r"(\w+)=(\S*)")


class Slurm:
    """A Slurm cluster reached with its commands on this machine's PATH."""

    name = "slurm"

    def __init__(
        self,
        work_dir: Path,
        *,
        partition: str = "",
        account: str = "",
        extra: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.work_dir = Path(work_dir)
        self.partition = partition
        self.account = account
        self.extra = list(extra)
        self.env = env  # the variables Slurm's own commands run with (None: this process's)
        self.uses_sacct: bool | None = None  # known once a state was read

    # ----- submit -----------------------------------------------------------------------

    def script(self, job: JobRequest) -> str:
        """The batch script for ``job``."""
        logs = self.work_dir / "slurm-logs"
        lines = [
            "#!/bin/bash",
            f"#SBATCH --job-name=tunelab-{job.task_id}",
            f"#SBATCH --output={logs}/tunelab-%j.log",
            f"#SBATCH --chdir={self.work_dir}",
        ]
        if self.partition:
            lines.append(f"#SBATCH --partition={self.partition}")
        if self.account:
            lines.append(f"#SBATCH --account={self.account}")
        lines += [f"#SBATCH {option}" for option in resource_options(job.resources)]
        lines += [f"#SBATCH {option}" for option in self.extra]
        lines += ["", f"exec {shlex.join(job.command)}", ""]
        return "\n".join(lines)

    def submit(self, job: JobRequest) -> str:
        scripts = self.work_dir / "slurm-scripts"
        scripts.mkdir(parents=True, exist_ok=True)
        (self.work_dir / "slurm-logs").mkdir(parents=True, exist_ok=True)
        path = scripts / f"tunelab-{job.task_id}.sh"
        path.write_text(self.script(job))
        out = self._run(["sbatch", "--parsable", str(path)], env=job.env)
        job_id = out.strip().split(";")[0]
        if not _JOB_ID.match(job_id):
            raise LaunchError(f"sbatch answered {out.strip()!r}, not a job id")
        return job_id

    # ----- states -----------------------------------------------------------------------

    def states(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        """From ``squeue`` while Slurm holds the job; an ended one from ``sacct``, or from
        ``scontrol show job`` where accounting is off (no slurmdbd)."""
        wanted = [job_id for job_id in job_ids if _JOB_ID.match(job_id)]
        if not wanted:
            return {}
        found: dict[str, JobState] = {}
        listing = self._call(
            ["squeue", "-h", "--states=all", "-j", ",".join(wanted), "-o", "%i|%T|%r"]
        )
        if listing.returncode != 0 and "Invalid job id" not in listing.stderr:
            # Slurm not answering is not every job gone: the launcher asks again later.
            raise LaunchError(f"squeue: {(listing.stderr or listing.stdout).strip()}")
        for line in listing.stdout.splitlines():
            parts = line.strip().split("|")
            if len(parts) == 3 and parts[0] in wanted:
                found[parts[0]] = job_state(parts[1], parts[2])
        for job_id in wanted:
            state = found.get(job_id)
            if state is None or state.finished:
                ended = self._ended(job_id)
                if ended is not None:
                    found[job_id] = ended
        return found

    def _ended(self, job_id: str) -> JobState | None:
        """An ended job's state with its exit code; None when Slurm forgot it."""
        if self.uses_sacct is not False:
            try:
                out = self._run(
                    ["sacct", "-n", "-P", "-X", "-j", job_id, "-o", "JobID,State,Reason,ExitCode"]
                )
                self.uses_sacct = True
            except LaunchError:
                self.uses_sacct = False  # no accounting storage: scontrol it is
            else:
                for line in out.splitlines():
                    parts = line.strip().split("|")
                    if len(parts) == 4 and parts[0] == job_id:
                        return job_state(parts[1], parts[2], parts[3])
                return None
        out = self._run(["scontrol", "show", "job", "-o", job_id], check=False)
        fields = dict(_FIELD.findall(out))
        if "JobState" not in fields:
            return None
        return job_state(fields["JobState"], fields.get("Reason", ""), fields.get("ExitCode", ""))

    # ----- cancel -----------------------------------------------------------------------

    def cancel(self, job_id: str, grace: float, pending: bool) -> None:
        if pending:
            self.kill(job_id)
            return
        # The batch script (the agent) and all it started get SIGTERM; the job's end follows.
        self._run(["scancel", "--signal=TERM", "--full", job_id], check=False)

    def kill(self, job_id: str) -> None:
        self._run(["scancel", job_id], check=False)

    def _run(
        self, command: list[str], *, env: dict[str, str] | None = None, check: bool = True
    ) -> str:
        done = self._call(command, env)
        if check and done.returncode != 0:
            message = (done.stderr or done.stdout).strip() or f"exit code {done.returncode}"
            raise LaunchError(f"{command[0]}: {message}")
        return done.stdout

    def _call(
        self, command: list[str], env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
                env=env if env is not None else self.env,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LaunchError(f"{command[0]} could not be run: {exc}") from exc


def resource_options(resources: Resources) -> list[str]:
    """``sbatch`` options asking for ``resources`` (the cloud fields are not Slurm's)."""
    options = []
    if resources.gpus:
        kind = f"{resources.gpu_type}:" if resources.gpu_type else ""
        options.append(f"--gres=gpu:{kind}{resources.gpus}")
    if resources.cpus:
        options.append(f"--cpus-per-task={resources.cpus}")
    if resources.memory_megabytes:
        options.append(f"--mem={resources.memory_megabytes}M")
    if resources.time_limit_seconds:
        # Slurm counts whole minutes: a part of one is a whole one.
        minutes = -(-resources.time_limit_seconds // 60)
        options.append(f"--time={minutes}")
    return options


def job_state(state: str, reason: str = "", exit_code: str = "") -> JobState:
    """A JobState from Slurm's words (``CANCELLED by 0`` is CANCELLED)."""
    word = state.strip().split(" ")[0].upper().rstrip("+")
    reason = "" if reason.strip() in ("None", "(None)") else reason.strip()
    return JobState(
        state=word,
        reason=reason,
        finished=word in ENDED,
        failure=ENDED.get(word, ""),
        exit_code="" if exit_code in ("", "0:0") else exit_code,
    )
