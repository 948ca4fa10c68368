"""Commands meet a setting that cannot work with one line and an exit code: for those that
open a database themselves (``server``, ``db upgrade``, ``user``, ``token``) a URL that
cannot be read, a database that does not answer, a data dir that cannot be made, a port out
of range; for the launcher and the agent a work dir that cannot be made. Each printed a
traceback, or (the agent) served anyway."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_task_lifecycle_cli import failed, tunelab
from tests.services import free_port


@pytest.fixture
def blocked(tmp_path: Path) -> Path:
    """A data dir that cannot be made: its parent is a file."""
    (tmp_path / "a-file").write_text("")
    return tmp_path / "a-file" / "data"


@pytest.mark.parametrize(
    "command",
    [["server"], ["db", "upgrade"], ["user", "list"], ["token", "list", "--user", "ann"]],
    ids=lambda words: " ".join(words),
)
def test_a_database_setting_that_cannot_work_is_one_line(
    env: dict[str, str], tmp_path: Path, blocked: Path, command: list[str]
) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    unreadable = tunelab(env, *command, *data, "--database-url", "not a url")
    failed(unreadable, "invalid database URL 'not a url'")
    assert unreadable.returncode == 2

    url = f"postgresql+psycopg://tunelab:hunter2@127.0.0.1:{free_port()}/tunelab"
    away = tunelab(env, *command, *data, "--database-url", url)
    failed(away, "cannot open the database postgresql+psycopg://tunelab:***@127.0.0.1:")
    assert away.returncode == 1 and "hunter2" not in away.stderr

    no_dir = tunelab(env, *command, "--data-dir", str(blocked))
    failed(no_dir, str(blocked))
    assert no_dir.returncode == 2


def test_a_port_out_of_range_is_a_usage_error(env: dict[str, str], tmp_path: Path) -> None:
    for port in ("0", "65536", "-1"):
        done = tunelab(env, "server", "--data-dir", str(tmp_path), "--port", port)
        failed(done, "is not in the range 1<=x<=65535")
        assert done.returncode == 2


@pytest.mark.parametrize(
    "command",
    [
        ["launcher", "--queue", "q", "--backend", "slurm"],
        ["agent", "daemon", "--queue", "q"],
        ["agent", "execute", "--id", "0123456789abcdef0123456789abcdef"],
    ],
    ids=lambda words: " ".join(words[:2]),
)
def test_a_work_dir_that_cannot_be_made_is_one_line(
    env: dict[str, str], blocked: Path, command: list[str]
) -> None:
    """Before, an agent served its queues anyway and failed every task it took."""
    done = tunelab(env, *command, "--work-dir", str(blocked))
    failed(done, f"--work-dir {blocked}")
    assert done.returncode == 2
