"""The CLI against the real server: output users read, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.scripts import run_script, script_env, unique, write_script


def tunelab(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tunelab.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_list_and_show_a_recorded_task(api_url: str, tmp_path: Path) -> None:
    project = unique("cli")
    script = write_script(
        tmp_path / "code",
        f"""
        import argparse
        from tunelab import Task
        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float, default=0.25)
        parser.parse_args()
        task = Task.init(project_name={project!r}, task_name="shown")
        task.get_logger().report_scalar("loss", "train", 0.5, iteration=1)
        """,
    )
    env = script_env(api_url, tmp_path)
    assert run_script(script, env).returncode == 0
    listed = tunelab(env, "task", "list", "--project", project)
    assert listed.returncode == 0, listed.stderr
    assert "shown" in listed.stdout and "completed" in listed.stdout
    task_id = listed.stdout.splitlines()[1].split()[0]
    shown = tunelab(env, "task", "show", task_id)
    assert shown.returncode == 0, shown.stderr
    assert "lr = 0.25  (float)" in shown.stdout
    assert "loss/train: 0.5 / 0.5 / 0.5" in shown.stdout
    completed = tunelab(env, "task", "list", "--project", project, "--status", "failed")
    assert "0 of 0 tasks" in completed.stdout


def test_control_characters_in_names_reach_no_terminal(api_url: str, tmp_path: Path) -> None:
    """Names come from any user of the server: an escape sequence in one must not act on
    the terminal of whoever lists it, nor a newline break the table."""
    from tunelab.sdk.transport import ApiClient

    project = unique("cli")
    hostile = "clear\x1b[2J\x1b]8;;http://x.example\x07link\x1b]8;;\x07\nline\x9b"
    escaped = r"clear\x1b[2J\x1b]8;;http://x.example\x07link\x1b]8;;\x07\x0aline\x9b"
    with ApiClient(api_url) as client:
        params = {"Args": {"lr": {"value": hostile, "type": "str"}}}
        task = client.create_task({"name": hostile, "project": project, "hyperparameters": params})
    env = script_env(api_url, tmp_path)
    listed = tunelab(env, "task", "list", "--project", project)
    shown = tunelab(env, "task", "show", task["id"])
    for done in (listed, shown):
        assert done.returncode == 0, done.stderr
        assert not set(done.stdout) & {"\x1b", "\x07", "\x9b"}
        assert escaped in done.stdout
    assert len(listed.stdout.splitlines()) == 3  # headers, the task, the count
    assert f"    lr = {escaped}  (str)" in shown.stdout.splitlines()


def test_errors_are_one_line_and_nonzero(api_url: str, tmp_path: Path) -> None:
    env = script_env(api_url, tmp_path)
    missing = tunelab(env, "task", "show", "0" * 32)
    assert missing.returncode != 0
    assert missing.stderr.strip() == f"error: no task with id {'0' * 32!r}"
    bad_status = tunelab(env, "task", "list", "--status", "sideways")
    assert bad_status.returncode != 0
    assert "Traceback" not in bad_status.stderr and bad_status.stderr.startswith("error:")
    down = tunelab(script_env("http://127.0.0.1:9", tmp_path), "task", "list")
    assert down.returncode != 0
    assert "Traceback" not in down.stderr and "127.0.0.1:9" in down.stderr


def test_user_and_key_lists_are_tab_separated_with_labels_escaped(tmp_path: Path) -> None:
    """The lists are read by scripts (``cut -f``): their tabs stay tabs, while a key's label,
    which its user wrote, shows a control character as its escape."""
    env = script_env("http://127.0.0.1:9", tmp_path)  # these commands open the database
    data = ["--data-dir", str(tmp_path / "data")]
    assert tunelab(env, "db", "upgrade", *data).returncode == 0
    made = tunelab(env, "user", "create", "ann", "--worker", *data)
    assert made.returncode == 0, made.stderr
    key = tunelab(env, "token", "create", "--user", "ann", "--name", "ci\x1b[2Jkey", *data)
    assert key.returncode == 0, key.stderr
    users = tunelab(env, "user", "list", *data)
    assert users.stdout.splitlines() == ["ann\tworker"]
    (line,) = tunelab(env, "token", "list", "--user", "ann", *data).stdout.splitlines()
    fields = line.split("\t")
    assert fields[2:] == ["ci\\x1b[2Jkey", "never used"] and len(fields) == 4
