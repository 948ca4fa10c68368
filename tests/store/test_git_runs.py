"""A task's git run on SQLite and PostgreSQL: written with the task, carried by its JSON,
edited on a draft only, copied by a clone without results, its results emptied by a reset,
its results recorded by ``set_git_results`` in any status; bad records refused."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.store.test_lifecycle import task_in
from tunelab.domain.git_run import DataFile, GitResults, GitRun
from tunelab.errors import Conflict, InvalidInput, NotFound
from tunelab.store import lifecycle
from tunelab.store.git_runs import git_run_of, set_git_results
from tunelab.store.task_inputs import merge_inputs
from tunelab.store.tasks import get_task, update_task

SHA256 = "ab" * 32

RUN = GitRun(
    params_files=("params.yaml", "configs/train.json"),
    data_files=(DataFile("data/data.xml", "tunelab://files/p/data.xml", SHA256, 12),),
    script="dvc exp run",
    commit_message="Try a lower learning rate",
    commit_description="lr 0.1 -> 0.01",
    base_branch="main",
    branch="tunelab/1a2b3c4-1",
    pull_request=True,
)
PUSHED = GitResults(
    state="pushed", commit="c" * 40, branch="tunelab/1a2b3c4-1", bundle="git-results",
    pull_request_url="https://forge.example/pr/1",
)  # fmt: skip


def test_written_with_the_task_and_read_back_whole(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        plain = task_in(conn, "draft")
        task_id = task_in(conn, "draft", git_run=RUN)
        task = get_task(conn, task_id)
        assert get_task(conn, plain)["git_run"] is None and git_run_of(conn, plain) is None
        assert git_run_of(conn, task_id) == RUN
    assert task["git_run"] == RUN.to_dict()
    assert task["git_run"]["data_files"][0] == {
        "path": "data/data.xml", "uri": "tunelab://files/p/data.xml", "sha256": SHA256,
        "size": 12, "source": "upload", "artifact_task": "", "artifact_name": "",
    }  # fmt: skip
    assert task["git_run"]["results"]["state"] == ""


def test_results_are_recorded_in_any_status_and_kept_by_an_edit(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        completed = task_in(conn, "completed", git_run=RUN)
        answer = set_git_results(conn, completed, PUSHED)
        assert answer.results == PUSHED and answer.script == RUN.script
        assert get_task(conn, completed)["git_run"]["results"]["pull_request_url"].endswith("/1")
        failed = set_git_results(conn, completed, GitResults(state="failed", error="rejected"))
        assert git_run_of(conn, completed) == failed
        with pytest.raises(Conflict):  # the inputs of a completed task are not editable
            update_task(conn, completed, {"git_run": RUN.to_dict() | {"script": "make"}})
        draft = task_in(conn, "draft", git_run=RUN)
        set_git_results(conn, draft, PUSHED)
        edited = update_task(conn, draft, {"git_run": RUN.to_dict() | {"script": "make"}})
        plain = task_in(conn, "running")
        with pytest.raises(Conflict):
            set_git_results(conn, plain, PUSHED)
        with pytest.raises(NotFound):
            set_git_results(conn, "0" * 32, PUSHED)
    assert edited["git_run"]["script"] == "make"
    assert edited["git_run"]["results"] == PUSHED.to_dict()  # only set_git_results sets them


def test_a_clone_copies_it_without_results_and_a_reset_empties_them(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "completed", git_run=RUN)
        set_git_results(conn, task_id, PUSHED)
        clone = lifecycle.clone(conn, task_id)
        plain_clone = lifecycle.clone(conn, task_in(conn, "completed"))
        reset = lifecycle.reset(conn, task_id).task
    assert clone["git_run"] == RUN.to_dict()
    assert plain_clone["git_run"] is None
    assert reset["git_run"] == RUN.to_dict()


@pytest.mark.parametrize(
    "bad",
    [
        {"params_files": ["../params.yaml"]},
        {"params_files": ["/etc/passwd"]},
        {"params_files": [".git/config"]},
        {"params_files": ["a//b"]},
        {"params_files": "params.yaml"},
        {"data_files": [{"path": "d.csv", "uri": "x", "sha256": "nothex", "size": 1}]},
        {"data_files": [{"path": "d.csv", "uri": "", "sha256": SHA256, "size": 1}]},
        {"data_files": [{"path": "d.csv", "uri": "x", "sha256": SHA256, "size": -1}]},
        {"data_files": [{"path": "..\\d", "uri": "x", "sha256": SHA256, "size": 1}]},
        {"runs_on": "laptop"},
        {"pull_request": "yes"},
        {"script": 3},
        {"results": {"state": "maybe"}},
    ],
)
def test_bad_records_are_refused(engine: sa.Engine, bad: dict[str, object]) -> None:
    with engine.begin() as conn, pytest.raises(InvalidInput):
        task_in(conn, "draft", git_run=bad)


def test_unknown_keys_are_ignored_when_read() -> None:
    data = RUN.to_dict() | {"added_later": 1}
    assert GitRun.from_dict(data) == RUN


def test_a_section_may_be_named_after_a_parameter_file(engine: sa.Engine) -> None:
    section = {"train.lr": {"value": "0.1", "type": "float"}}
    with engine.begin() as conn:
        task_id = task_in(conn, "draft", git_run=RUN)
        merge_inputs(conn, task_id, "hyperparameters", {"configs/train.json": section})
        stored = get_task(conn, task_id)["hyperparameters"]
    assert stored["configs/train.json"]["train.lr"]["value"] == "0.1"
