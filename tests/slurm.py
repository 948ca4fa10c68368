"""A real one-node Slurm cluster on 127.0.0.1 for the launcher's tests.

``munged``, ``slurmctld`` and ``slurmd`` (Debian's ``munge`` and ``slurm-wlm``) run as this
user (root, as in the test containers) from a temporary directory: a munge key and socket
of their own (``AuthInfo=socket=``), state and spool there, free ports. What works without
systemd or a cgroup hierarchy: ``ProctrackType=proctrack/linuxproc`` (processes followed
by their parent ids) and ``TaskPlugin=task/none``; no accounting (``sacct`` answers that
accounting is off, so ended jobs are read with ``scontrol show job``, kept ``MinJobAge``
seconds).

Slurm counts a time limit in whole minutes and looks for jobs past theirs every 30 s, so a
real time limit takes 60 to 90 s. ``slurmctld`` therefore runs under libfaketime with its
clock ``SPEED`` times as fast (``faketime -f "+0 x20"``): a job asking one minute ends
``TIMEOUT`` after 3 to 5 s. The controller's intervals below are in its own seconds (divide
by ``SPEED`` for real ones); ``slurmd``, munge and the jobs keep the real clock (munge
credentials are stamped by munged, and a job credential from the future is not expired).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.waiting import wait_for

SPEED = 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class SlurmCluster:
    root: Path
    conf: Path

    @property
    def env(self) -> dict[str, str]:
        """This process's environment pointed at the cluster."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def run(self, *command: str) -> str:
        done = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=30, check=True
        )
        return done.stdout

    def job(self, job_id: str) -> dict[str, str]:
        """``scontrol show job``'s fields."""
        out = self.run("scontrol", "show", "job", "-o", job_id)
        return dict(part.split("=", 1) for part in out.split() if "=" in part)


def _slurm_conf(root: Path, speed: int = SPEED) -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    return f"""\
ClusterName=tunelab-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge/munge.sock
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without it a job asking no memory would take the whole node's.
DefMemPerCPU=256
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval={speed}
MinJobAge={3600 * speed}
KillWait={3 * speed}
SlurmdTimeout={300 * speed}
OverTimeLimit=0
InactiveLimit=0
Waittime=0
NodeName=localhost NodeHostname={socket.gethostname()} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={memory}
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""  # noqa: E501


@contextlib.contextmanager
def slurm_cluster(root: Path, speed: int = SPEED) -> Iterator[SlurmCluster]:
    """munged + slurmctld + slurmd under ``root``; all three stopped at the end. ``speed``:
    how much faster the controller's clock runs (1: the real clock, no faketime)."""
    for program in ("munged", "slurmctld", "slurmd", "sbatch", "faketime"):
        if shutil.which(program) is None:
            raise RuntimeError(f"{program} is missing: apt-get install -y slurm-wlm munge faketime")
    munge = root / "munge"
    for folder in (munge, root / "state", root / "spool"):
        folder.mkdir(parents=True)
    munge.chmod(0o700)
    (munge / "munge.key").write_bytes(os.urandom(1024))
    (munge / "munge.key").chmod(0o400)
    conf = root / "slurm.conf"
    conf.write_text(_slurm_conf(root, speed))
    cluster = SlurmCluster(root, conf)
    pid_files = [munge / "munged.pid", root / "slurmctld.pid", root / "slurmd.pid"]
    try:
        subprocess.run(
            ["munged", "--force", f"--socket={munge}/munge.sock", f"--key-file={munge}/munge.key",
             f"--log-file={munge}/munged.log", f"--pid-file={munge}/munged.pid",
             f"--seed-file={munge}/seed"],
            check=True, timeout=30,
        )  # fmt: skip
        subprocess.run(
            [*(["faketime", "-f", f"+0 x{speed}"] if speed != 1 else []), "slurmctld", "-i"],
            env=cluster.env,
            check=True,
            timeout=30,
        )
        subprocess.run(["slurmd", "-N", "localhost"], env=cluster.env, check=True, timeout=30)
        wait_for(
            lambda: "idle" in cluster.run("sinfo", "-h", "-o", "%T"),
            timeout=30,
            what="the Slurm node to be idle",
            interval=0.2,
        )
        yield cluster
    finally:
        # Jobs still running (a test that failed midway) end with the cluster: slurmstepd
        # outlives slurmd otherwise.
        with contextlib.suppress(subprocess.SubprocessError, OSError, AssertionError):
            cluster.run("scancel", "--partition=debug")
            wait_for(lambda: not cluster.run("squeue", "-h", "-t", "R"), 10, "jobs to end", 0.2)
        # All three asked at once, then waited for (killed after 10 s): a stop each in turn
        # would add their shutdown times up.
        pids = []
        for pid_file in pid_files:
            with contextlib.suppress(OSError, ValueError):
                pid = int(pid_file.read_text().strip())
                os.kill(pid, signal.SIGTERM)
                pids.append(pid)
        deadline = time.monotonic() + 10
        for pid in pids:
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


@pytest.fixture(scope="session")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    """The session's Slurm cluster (import this fixture into a test module to use it)."""
    with slurm_cluster(tmp_path_factory.mktemp("slurm")) as cluster:
        yield cluster
