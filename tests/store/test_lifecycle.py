"""The lifecycle in the store, on SQLite and PostgreSQL: each action in every status, clone
and reset, the edit rules, and compare-and-set under concurrency."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from tunelab.errors import Conflict, NotFound
from tunelab.store import lifecycle, queues
from tunelab.store.artifacts import put_artifact
from tunelab.store.console import ConsoleLine, append_lines, read_lines
from tunelab.store.input_model import set_input_model
from tunelab.store.models import create_model, delete_model, get_model, publish_model
from tunelab.store.scalars import ScalarBatch, SeriesPoints, ingest_batch, read_summaries
from tunelab.store.task_inputs import merge_inputs, replace_inputs
from tunelab.store.tasks import create_task, get_task, update_task

STATUSES = ("draft", "queued", "running", "completed", "failed", "stopped", "published")
INPUTS = {
    "hyperparameters": {"Args": {"lr": {"value": "0.1", "type": "float", "description": ""}}},
    "configuration": {"model": {"text": '{"depth": 18}', "type": "dictionary", "description": ""}},
    "user_properties": {"owner": {"value": "alice", "type": "str", "description": ""}},
}
EXECUTION = {
    "repository": "https://example.com/r.git",
    "commit": "c1",
    "diff": "--- a\n+++ b\n",
    "requirements": "numpy==2.0\n",
    "docker_image": "python:3.12",
    "output_uri": "s3://bucket/out",
}


def task_in(conn: sa.Connection, status: str, **fields: Any) -> str:
    """A task brought to ``status`` the way users and agents bring it there."""
    created = "running" if status in ("running", "completed", "failed", "stopped") else "draft"
    if status == "published":
        created = "running"
    task_id: str = create_task(
        conn, name="t", project="life", status=created, execution=EXECUTION, **INPUTS, **fields
    )["id"]
    if status == "queued":
        lifecycle.enqueue(conn, task_id)
    elif status in ("completed", "failed", "stopped"):
        update_task(conn, task_id, {"status": status})
    elif status == "published":
        update_task(conn, task_id, {"status": "completed"})
        lifecycle.publish(conn, task_id)
    assert get_task(conn, task_id)["status"] == status
    return task_id


ACTIONS: dict[str, tuple[Callable[[sa.Connection, str], Any], set[str]]] = {
    "enqueue": (lifecycle.enqueue, {"draft"}),
    "dequeue": (lifecycle.dequeue, {"queued"}),
    "start": (lambda conn, t: lifecycle.start(conn, t, "w1"), {"draft", "queued"}),
    "stop": (lifecycle.stop, {"queued", "running"}),
    "publish": (lifecycle.publish, {"completed", "stopped"}),
    "reset": (lifecycle.reset, {"draft", "queued", "completed", "failed", "stopped"}),
    "archive": (lifecycle.archive, {"draft", "completed", "failed", "stopped", "published"}),
    "delete": (lifecycle.delete, {"draft"}),
    "reopen": (lifecycle.reopen, {"completed", "failed", "stopped"}),
}
# What each allowed action leaves the task as.
AFTER = {
    "enqueue": lambda before: "queued",
    "dequeue": lambda before: "draft",
    "start": lambda before: "running",
    "stop": lambda before: "stopped" if before == "queued" else "running",
    "publish": lambda before: "published",
    "reset": lambda before: "draft",
    "archive": lambda before: before,
    "reopen": lambda before: "running",
}


def test_reopen_goes_on_with_what_the_run_logged(engine: sa.Engine) -> None:
    """An ended run resuming: running again, its start kept, its end cleared until it ends
    again, its outputs kept; an archived one is unarchived first."""
    with engine.begin() as conn:
        task_id = task_in(conn, "draft")
        lifecycle.start(conn, task_id, "w1")
        update_task(conn, task_id, {"status": "stopped", "status_reason": "aborted"})
        ended = get_task(conn, task_id)
        assert ended["completed"] is not None and ended["worker"] == "w1"
        reopened = lifecycle.reopen(conn, task_id)
        assert reopened["status"] == "running" and reopened["completed"] is None
        assert reopened["started"] == ended["started"] and reopened["status_reason"] == ""
        assert reopened["worker"] is None  # the script resuming it runs it, not that worker
        assert reopened["hyperparameters"] == ended["hyperparameters"]
        update_task(conn, task_id, {"status": "completed"})
        assert get_task(conn, task_id)["completed"] >= ended["completed"]
        lifecycle.archive(conn, task_id)
        with pytest.raises(Conflict, match="unarchive it first"):
            lifecycle.reopen(conn, task_id)
        assert get_task(conn, task_id)["status"] == "completed"


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_each_action_in_every_status(engine: sa.Engine, action: str) -> None:
    run, allowed = ACTIONS[action]
    with engine.begin() as conn:
        for status in STATUSES:
            task_id = task_in(conn, status)
            before = get_task(conn, task_id)
            if status not in allowed:
                with pytest.raises(Conflict, match=f"cannot {action} a {status} task") as refused:
                    run(conn, task_id)
                assert refused.value.detail["status"] == status
                assert get_task(conn, task_id) == before, "a refused action changes nothing"
                continue
            run(conn, task_id)
            if action == "delete":
                with pytest.raises(NotFound):
                    get_task(conn, task_id)
                continue
            after = get_task(conn, task_id)
            assert after["status"] == AFTER[action](status), (action, status)
            assert after["last_update"] >= before["last_update"]


def test_status_stamps_queue_worker_and_stop_request(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "draft")
        queued = lifecycle.enqueue(conn, task_id, "gpu")
        assert (queued["queue"], queued["worker"], queued["started"]) == ("gpu", None, None)
        running = lifecycle.start(conn, task_id, "host:agent-1")
        assert running["worker"] == "host:agent-1" and running["started"] is not None
        assert running["queue"] == "gpu"  # where it came from
        assert queues.list_entries(conn, "gpu") == []
        asked = lifecycle.stop(conn, task_id, "enough")
        assert asked["status"] == "running"
        assert asked["stop_requested"] is True and asked["status_reason"] == "enough"
        ended = update_task(conn, task_id, {"status": "stopped"})
        assert ended["completed"] is not None and ended["started"] == running["started"]
        published = lifecycle.publish(conn, task_id)
        assert published["completed"] == ended["completed"]


def test_stopping_a_queued_task_takes_it_out_of_its_queue(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "queued")
        stopped = lifecycle.stop(conn, task_id, "")
        assert stopped["status"] == "stopped" and stopped["completed"] is not None
        assert stopped["queue"] is None
        assert queues.list_entries(conn, "default") == []


def test_archived_tasks_can_be_deleted_unless_published(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for status in ("completed", "failed", "stopped", "draft"):
            task_id = task_in(conn, status)
            assert lifecycle.archive(conn, task_id)["archived"] is True
            lifecycle.delete(conn, task_id)
            with pytest.raises(NotFound):
                get_task(conn, task_id)
        published = task_in(conn, "published")
        lifecycle.archive(conn, published)
        with pytest.raises(Conflict, match="cannot delete a published task"):
            lifecycle.delete(conn, published)
        assert lifecycle.unarchive(conn, published)["archived"] is False


def test_delete_removes_dependent_rows(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "draft", tags=["a"])
        _record_outputs(conn, task_id)
        lifecycle.delete(conn, task_id)
        for table in ("task_params", "task_configuration", "task_properties", "task_tags"):
            left = conn.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE task_id = :t"), {"t": task_id}
            )
            assert left.scalar_one() == 0, table
        for table in ("scalar_chunks", "task_metrics", "console_lines", "ingested_batches"):
            left = conn.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE task_id = :t"), {"t": task_id}
            )
            assert left.scalar_one() == 0, table


# --- clone ----------------------------------------------------------------------------------


def _record_outputs(conn: sa.Connection, task_id: str) -> None:
    series = SeriesPoints(
        "loss", "train", np.arange(3, dtype=np.int64), np.ones(3), np.arange(3, dtype=np.float64)
    )
    ingest_batch(conn, task_id, ScalarBatch([series], batch_id="b1"))
    append_lines(conn, task_id, [ConsoleLine("stdout", "epoch 1", 1.0)], batch_id="c1")


def test_clone_copies_inputs_and_no_outputs(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        source_id = task_in(conn, "running", tags=["keep"], type="testing", user="alice")
        _record_outputs(conn, source_id)
        update_task(conn, source_id, {"status": "completed", "last_iteration": 2})
        source = get_task(conn, source_id)
        clone = lifecycle.clone(conn, source_id)
        assert clone["id"] != source_id
        assert clone["status"] == "draft"
        assert clone["name"] == "Clone Of t"
        assert clone["project"] == source["project"]
        for key in ("execution", "hyperparameters", "configuration", "user_properties", "tags"):
            assert clone[key] == source[key], key
        assert clone["execution"]["diff"] == EXECUTION["diff"]
        assert clone["execution"]["requirements"] == EXECUTION["requirements"]
        assert (clone["type"], clone["user"]) == ("testing", "alice")
        assert (clone["started"], clone["completed"], clone["last_iteration"]) == (None, None, 0)
        assert (clone["queue"], clone["worker"], clone["archived"]) == (None, None, False)
        assert read_summaries(conn, [clone["id"]]) == {clone["id"]: {}}
        assert read_lines(conn, clone["id"]).lines == []
        # The source is untouched, outputs included.
        assert get_task(conn, source_id) == source
        assert read_summaries(conn, [source_id])[source_id]


def test_clone_name_project_and_comment(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        source_id = task_in(conn, "published")
        clone = lifecycle.clone(
            conn, source_id, name="tuned", project="life/tuned/deep", comment="lr x10"
        )
        assert clone["name"] == "tuned"
        assert clone["project"]["name"] == "life/tuned/deep"
        assert clone["comment"] == "lr x10"


def test_clone_parent_rule(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        orphan = task_in(conn, "completed")
        # No parent: the source becomes the parent.
        first = lifecycle.clone(conn, orphan)
        assert first["parent"] == orphan
        # The source has a parent: the clone shares it...
        second = lifecycle.clone(conn, first["id"])
        assert second["parent"] == orphan
        # ...unless the caller asks for the source itself.
        third = lifecycle.clone(conn, first["id"], set_as_parent=True)
        assert third["parent"] == first["id"]


def test_clone_of_unknown_task_is_not_found(engine: sa.Engine) -> None:
    with engine.begin() as conn, pytest.raises(NotFound):
        lifecycle.clone(conn, "0" * 32)


# --- reset ----------------------------------------------------------------------------------


def test_reset_deletes_outputs_and_keeps_inputs(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "running", tags=["keep"])
        _record_outputs(conn, task_id)
        update_task(conn, task_id, {"status": "failed", "status_reason": "boom"})
        before = get_task(conn, task_id)
        result = lifecycle.reset(conn, task_id)
        assert result.files == []
        task = result.task
        assert task["status"] == "draft"
        for key in ("execution", "hyperparameters", "configuration", "user_properties", "tags"):
            assert task[key] == before[key], key
        assert (task["started"], task["completed"], task["last_iteration"]) == (None, None, 0)
        assert (task["status_reason"], task["worker"], task["queue"]) == ("", None, None)
        assert read_summaries(conn, [task_id]) == {task_id: {}}
        assert read_lines(conn, task_id).lines == []
        count = conn.execute(
            sa.text("SELECT count(*) FROM scalar_chunks WHERE task_id = :t"), {"t": task_id}
        )
        assert count.scalar_one() == 0
        # The batch ids went too: the rerun's first batches are stored, not taken as retries.
        series = SeriesPoints("loss", "train", np.arange(1, dtype=np.int64), np.ones(1), np.ones(1))
        assert not ingest_batch(conn, task_id, ScalarBatch([series], batch_id="b1")).duplicate


def test_reset_of_a_queued_task_takes_it_out_of_the_queue(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "queued")
        assert lifecycle.reset(conn, task_id).task["status"] == "draft"
        assert queues.list_entries(conn, "default") == []


# --- artifacts and models through clone, reset and delete -----------------------------------


def _record_artifacts_and_models(conn: sa.Connection, task_id: str) -> dict[str, str]:
    """Two artifacts and four output models: plain, published, in use by another task, and
    one whose file an artifact of another task names too. Answers the models' ids."""
    artifact = {"type": "t", "format": "f", "size": 1, "sha256": ""}
    put_artifact(conn, task_id, "data", uri="file:///out/data.csv", **artifact)
    put_artifact(conn, task_id, "no file", uri="", **artifact)
    made = {
        name: create_model(conn, name=name, task_id=task_id, uri=f"file:///out/{name}.pt")["id"]
        for name in ("plain", "published", "in use", "shared")
    }
    publish_model(conn, made["published"])
    other = task_in(conn, "draft")
    set_input_model(conn, other, made["in use"])
    put_artifact(conn, task_in(conn, "running"), "copy", uri="file:///out/shared.pt", **artifact)
    return made


def _model_task(conn: sa.Connection, model_id: str) -> str | None:
    found: str | None = get_model(conn, model_id)["task_id"]
    return found


def test_clone_copies_the_input_model_and_no_artifacts_or_output_models(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        source = task_in(conn, "running")
        _record_artifacts_and_models(conn, source)
        base = create_model(conn, name="base")
        set_input_model(conn, source, base["id"], by_run=True)
        clone = lifecycle.clone(conn, source)
        assert clone["input_model"] == get_task(conn, source)["input_model"]
        assert (clone["artifacts"], clone["output_models"]) == ({}, [])
        assert len(get_task(conn, source)["output_models"]) == 4


def test_reset_removes_artifacts_and_the_output_models_nothing_needs(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "running")
        made = _record_artifacts_and_models(conn, task_id)
        base = create_model(conn, name="base")
        set_input_model(conn, task_id, base["id"], by_run=True)
        update_task(conn, task_id, {"status": "completed"})
        result = lifecycle.reset(conn, task_id)
        # The shared file stays: another task's artifact names it.
        assert result.files == ["file:///out/data.csv", "file:///out/plain.pt"]
        task = result.task
        assert task["artifacts"] == {}
        assert task["input_model"]["id"] == base["id"], "an input is kept"
        kept = {m["name"] for m in task["output_models"]}
        assert kept == {"published", "in use"}
        for name in ("plain", "shared"):
            with pytest.raises(NotFound):
                get_model(conn, made[name])
        assert _model_task(conn, made["published"]) == task_id
        # Nothing left to remove: a second reset offers no files.
        assert lifecycle.reset(conn, task_id).files == []


def test_delete_removes_them_too_and_kept_models_lose_the_task(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "draft")
        made = _record_artifacts_and_models(conn, task_id)
        assert lifecycle.delete(conn, task_id) == ["file:///out/data.csv", "file:///out/plain.pt"]
        assert _model_task(conn, made["published"]) is None
        assert _model_task(conn, made["in use"]) is None
        for name in ("plain", "shared"):
            with pytest.raises(NotFound):
                get_model(conn, made[name])
        left = conn.execute(
            sa.text("SELECT count(*) FROM task_artifacts WHERE task_id = :t"), {"t": task_id}
        )
        assert left.scalar_one() == 0


# --- edit rules -----------------------------------------------------------------------------


def test_status_changes_follow_the_table(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        draft = task_in(conn, "draft")
        with pytest.raises(Conflict, match=r"a draft task cannot become queued.*enqueue"):
            update_task(conn, draft, {"status": "queued"})
        with pytest.raises(Conflict, match="a draft task cannot become completed"):
            update_task(conn, draft, {"status": "completed"})
        queued = task_in(conn, "queued")
        with pytest.raises(Conflict, match=r"a queued task cannot become running.*start"):
            update_task(conn, queued, {"status": "running"})
        done = task_in(conn, "completed")
        with pytest.raises(Conflict, match=r"a completed task cannot become draft.*reset"):
            update_task(conn, done, {"status": "draft"})
        assert update_task(conn, done, {"status": "completed"})["status"] == "completed"
        published = task_in(conn, "published")
        with pytest.raises(Conflict, match="a published task cannot become running"):
            update_task(conn, published, {"status": "running"})
        # Tags and the comment are always editable; the name until published.
        with pytest.raises(Conflict, match="cannot rename a published task"):
            update_task(conn, published, {"name": "n"})
        annotated = update_task(conn, published, {"tags": ["x"], "comment": "c"})
        assert (annotated["tags"], annotated["comment"]) == (["x"], "c")
        assert update_task(conn, done, {"name": "n"})["name"] == "n"


def test_execution_is_an_input(engine: sa.Engine) -> None:
    change = {"execution": {"commit": "c2"}}
    with engine.begin() as conn:
        assert update_task(conn, task_in(conn, "draft"), change)["execution"]["commit"] == "c2"
        running = task_in(conn, "running")
        with pytest.raises(Conflict, match="cannot edit the inputs of a running task"):
            update_task(conn, running, change)
        assert update_task(conn, running, change, by_run=True)["execution"]["commit"] == "c2"
        # Sending what is stored already is not an edit.
        assert update_task(conn, running, change)["execution"]["commit"] == "c2"
        with pytest.raises(Conflict, match="cannot edit the inputs of a completed task"):
            update_task(conn, task_in(conn, "completed"), change, by_run=True)
        with pytest.raises(Conflict, match="cannot archive a running task"):
            update_task(conn, running, {"archived": True})


@pytest.mark.parametrize("write", [merge_inputs, replace_inputs])
def test_inputs_editable_on_drafts_and_by_the_run(engine: sa.Engine, write: Any) -> None:
    params = {"Args": {"lr": {"value": "1"}}}
    with engine.begin() as conn:
        assert write(conn, task_in(conn, "draft"), "hyperparameters", params)
        running = task_in(conn, "running")
        with pytest.raises(Conflict, match="cannot edit the inputs of a running task"):
            write(conn, running, "hyperparameters", params)
        assert write(conn, running, "configuration", {"c": {"text": "x"}}, by_run=True)
        for status in ("queued", "completed", "failed", "stopped", "published"):
            task_id = task_in(conn, status)
            before = get_task(conn, task_id)
            with pytest.raises(Conflict, match=f"inputs of a {status} task"):
                write(conn, task_id, "hyperparameters", params, by_run=True)
            assert get_task(conn, task_id) == before


def test_user_properties_editable_unless_published(engine: sa.Engine) -> None:
    prop = {"note": {"value": "x"}}
    with engine.begin() as conn:
        for status in ("draft", "queued", "running", "completed", "failed", "stopped"):
            stored = merge_inputs(conn, task_in(conn, status), "user_properties", prop)
            assert stored["note"]["value"] == "x"
        with pytest.raises(Conflict, match="user properties of a published task"):
            merge_inputs(conn, task_in(conn, "published"), "user_properties", prop)


# --- compare-and-set under concurrency ------------------------------------------------------


def race(
    engine: sa.Engine, task_id: str, *actions: Callable[[sa.Connection, str], Any]
) -> list[str]:
    """Run ``actions`` at once, each in its own connection; what each got: "ok" or "refused"
    (a Conflict; or NotFound, for the loser of a race with a delete)."""
    barrier = threading.Barrier(len(actions))
    outcomes: list[str] = [""] * len(actions)

    def attempt(index: int) -> None:
        barrier.wait()
        try:
            with engine.begin() as conn:
                actions[index](conn, task_id)
            outcomes[index] = "ok"
        except (Conflict, NotFound):
            outcomes[index] = "refused"

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.mark.parametrize(
    ("start", "contenders", "ends_as"),
    [
        ("draft", ("enqueue", "enqueue"), {"queued"}),
        ("queued", ("dequeue", "stop"), {"draft", "stopped"}),
        ("queued", ("start", "start"), {"running"}),
        ("completed", ("publish", "reset"), {"published", "draft"}),
        ("draft", ("enqueue", "delete"), {"queued", "gone"}),
    ],
)
def test_of_two_concurrent_changes_exactly_one_wins(
    engine: sa.Engine, start: str, contenders: tuple[str, str], ends_as: set[str]
) -> None:
    for _ in range(5):
        with engine.begin() as conn:
            task_id = task_in(conn, start)
        outcomes = race(engine, task_id, *(ACTIONS[name][0] for name in contenders))
        assert sorted(outcomes) == ["ok", "refused"], outcomes
        with engine.begin() as conn:
            try:
                final = get_task(conn, task_id)["status"]
            except NotFound:
                final = "gone"
            assert final in ends_as
            waiting = conn.execute(
                sa.text("SELECT count(*) FROM queue_entries WHERE task_id = :t"), {"t": task_id}
            ).scalar_one()
            assert waiting == (1 if final == "queued" else 0)


def test_a_model_deleted_while_a_task_takes_it_as_input_is_never_left_dangling(
    engine: sa.Engine,
) -> None:
    for _ in range(5):
        with engine.begin() as conn:
            task_id = task_in(conn, "draft")
            model_id: str = create_model(conn, name="m")["id"]
        outcomes = race(
            engine,
            task_id,
            lambda conn, t, m=model_id: set_input_model(conn, t, m),
            lambda conn, t, m=model_id: delete_model(conn, m),
        )
        assert sorted(outcomes) == ["ok", "refused"], outcomes
        with engine.begin() as conn:
            taken = get_task(conn, task_id)["input_model"]
            if outcomes[0] == "ok":
                assert taken is not None and get_model(conn, model_id)
            else:
                assert taken is None
                with pytest.raises(NotFound):
                    get_model(conn, model_id)


def test_an_output_model_a_reset_removes_is_never_left_as_an_input(engine: sa.Engine) -> None:
    for _ in range(5):
        with engine.begin() as conn:
            source = task_in(conn, "completed")
            model_id: str = create_model(conn, name="m", task_id=source)["id"]
            user = task_in(conn, "draft")
        outcomes = race(
            engine,
            source,
            lambda conn, t: lifecycle.reset(conn, t),
            lambda conn, t, u=user, m=model_id: set_input_model(conn, u, m),
        )
        assert outcomes[0] == "ok", outcomes
        with engine.begin() as conn:
            taken = get_task(conn, user)["input_model"]
            if outcomes[1] == "ok":
                assert taken is not None and get_model(conn, model_id), "kept: in use"
            else:
                assert taken is None
                with pytest.raises(NotFound):
                    get_model(conn, model_id)
