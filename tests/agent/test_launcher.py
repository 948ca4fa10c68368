"""Launcher running real processes: exit codes, output in order, stopping a whole group."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tunelab.agent.launcher import Launcher, entry_point_argument, task_environment


class Lines:
    """A sink that keeps what it is given, per stream, in order."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, stream: str, text: str) -> None:
        with self._lock:
            self.lines.append((stream, text))

    def of(self, stream: str) -> list[str]:
        return [text for s, text in self.lines if s == stream]


def launch(tmp_path: Path, body: str, sink: Lines | None = None) -> Launcher:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(body))
    launcher = Launcher(
        [sys.executable, str(script)], cwd=tmp_path, env=dict(os.environ), sink=sink or Lines()
    )
    launcher.start()
    return launcher


def alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_for_file(path: Path, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().endswith("\n"):
            return path.read_text()
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


@pytest.mark.parametrize("code", [0, 3])
def test_the_exit_code_is_the_processes(tmp_path: Path, code: int) -> None:
    assert launch(tmp_path, f"raise SystemExit({code})").wait() == code


def test_a_process_killed_by_a_signal_has_a_negative_code(tmp_path: Path) -> None:
    body = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    assert launch(tmp_path, body).wait() == -9


def test_output_lines_reach_the_sink_in_order_per_stream(tmp_path: Path) -> None:
    sink = Lines()
    body = """
    import sys
    for i in range(500):
        print(f"out {i}")
        if i % 100 == 0:
            print(f"err {i}", file=sys.stderr)
    print("progress 10%\\rprogress 50%\\rprogress 100%")
    sys.stdout.write("no newline at the end")
    """
    assert launch(tmp_path, body, sink).wait() == 0
    assert sink.of("stdout") == [
        *(f"out {i}" for i in range(500)),
        "progress 100%",  # a redrawn line is kept as a terminal would show it
        "no newline at the end",
    ]
    assert sink.of("stderr") == [f"err {i}" for i in range(0, 500, 100)]


def test_the_process_runs_in_its_cwd_with_its_environment(tmp_path: Path) -> None:
    sink = Lines()
    (tmp_path / "sub").mkdir()
    script = tmp_path / "sub" / "show.py"
    script.write_text("import os; print(os.getcwd()); print(os.environ['TUNELAB_TASK_ID'])")
    env = task_environment("abc123", "http://127.0.0.1:9")
    launcher = Launcher([sys.executable, "show.py"], tmp_path / "sub", env, sink)
    launcher.start()
    assert launcher.wait() == 0
    assert sink.of("stdout") == [str(tmp_path / "sub"), "abc123"]
    assert env["TUNELAB_AGENT"] == "1" and env["PYTHONUNBUFFERED"] == "1"
    assert env["TUNELAB_API_URL"] == "http://127.0.0.1:9"


GROUP = """
import os, subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
with open("pids", "w") as f:
    f.write(f"{os.getpid()} {grandchild.pid}\\n")
time.sleep(600)
"""


def test_stop_ends_the_whole_process_group(tmp_path: Path) -> None:
    launcher = launch(tmp_path, GROUP)
    child, grandchild = map(int, wait_for_file(tmp_path / "pids").split())
    assert alive(child) and alive(grandchild)
    started = time.monotonic()
    assert launcher.stop(grace=10) == -15  # SIGTERM was enough
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 5
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(child) and not alive(grandchild)


def test_a_child_trapping_sigterm_gets_the_grace_period_to_checkpoint(tmp_path: Path) -> None:
    body = """
    import signal, sys, time
    def checkpoint(signum, frame):
        time.sleep(0.5)  # saving takes a while
        with open("checkpoint", "w") as f:
            f.write("epoch 7\\n")
        print("checkpoint written", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, checkpoint)
    print("ready", flush=True)
    time.sleep(600)
    """
    sink = Lines()
    launcher = launch(tmp_path, body, sink)
    while sink.of("stdout") != ["ready"]:
        time.sleep(0.02)
    started = time.monotonic()
    assert launcher.stop(grace=10) == 0
    assert time.monotonic() - started < 5  # it did not wait out the whole grace
    assert (tmp_path / "checkpoint").read_text() == "epoch 7\n"
    assert sink.of("stdout") == ["ready", "checkpoint written"]


def test_a_child_ignoring_sigterm_is_killed_when_the_grace_is_over(tmp_path: Path) -> None:
    body = """
    import signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ready", flush=True)
    time.sleep(600)
    """
    sink = Lines()
    launcher = launch(tmp_path, body, sink)
    while sink.of("stdout") != ["ready"]:
        time.sleep(0.02)
    started = time.monotonic()
    assert launcher.stop(grace=1.0) == -9
    assert 0.9 < time.monotonic() - started < 5


def test_leftovers_of_a_finished_run_are_killed(tmp_path: Path) -> None:
    body = """
    import os, subprocess, sys
    # A background grandchild that keeps the output pipes open after the script ends.
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open("pids", "w") as f:
        f.write(f"{grandchild.pid}\\n")
    """
    started = time.monotonic()
    launcher = launch(tmp_path, body)
    assert launcher.wait() == 0
    assert time.monotonic() - started < 10
    grandchild = int(wait_for_file(tmp_path / "pids"))
    deadline = time.monotonic() + 5
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(grandchild)


def test_wait_with_a_timeout_and_poll(tmp_path: Path) -> None:
    launcher = launch(tmp_path, "import time; time.sleep(600)")
    assert launcher.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        launcher.wait(timeout=0.2)
    assert launcher.stop(grace=5) == -15
    assert launcher.poll() == -15


@pytest.mark.parametrize(
    ("entry_point", "working_dir", "argument"),
    [
        ("train.py", "", "train.py"),
        ("train.py", ".", "train.py"),
        ("src/train.py", "src", "train.py"),
        ("src/train.py", "", "src/train.py"),
        ("tools/run.py", "src", "../tools/run.py"),
        ("/abs/train.py", "x", "/abs/train.py"),
    ],
)
def test_the_entry_point_is_named_from_the_working_dir(
    entry_point: str, working_dir: str, argument: str
) -> None:
    assert entry_point_argument(entry_point, working_dir) == argument


def test_the_script_ends_when_the_agent_is_killed(tmp_path: Path) -> None:
    """SIGKILL leaves an agent no chance to clean up: the child still gets SIGTERM."""
    pid_file = tmp_path / "child.pid"
    agent = tmp_path / "agent.py"
    agent.write_text(
        textwrap.dedent(
            f"""
            import sys, time
            from pathlib import Path
            from tunelab.agent.launcher import Launcher
            child = Path({str(tmp_path)!r}) / "child.py"
            child.write_text("import os, time\\n"
                             "open({str(pid_file)!r}, 'w').write(f'{{os.getpid()}}\\\\n')\\n"
                             "time.sleep(120)\\n")
            Launcher([sys.executable, str(child)], Path({str(tmp_path)!r}), {{}},
                     lambda s, t: None).start()
            time.sleep(120)
            """
        )
    )
    with subprocess.Popen([sys.executable, str(agent)]) as proc:
        try:
            child_pid = int(wait_for_file(pid_file))
            assert alive(child_pid)
        finally:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 10
    while alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child_pid)


def test_the_agents_own_key_never_reaches_the_task() -> None:
    agent = {"TUNELAB_API_TOKEN": "tl_the_agents_key", "PATH": "/usr/bin"}
    env = task_environment("abc123", "http://127.0.0.1:9", base=agent, token="tlt_the_tasks")
    assert env["TUNELAB_API_TOKEN"] == "tlt_the_tasks"
    bare = task_environment("abc123", "http://127.0.0.1:9", base=agent)
    assert "TUNELAB_API_TOKEN" not in bare and bare["PATH"] == "/usr/bin"
