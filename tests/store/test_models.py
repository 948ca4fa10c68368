"""The model registry on SQLite and PostgreSQL: registering, changing, publishing, deleting,
listing; a task's input and output models."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from tests.store.test_lifecycle import task_in
from tunelab.errors import Conflict, InvalidInput, NotFound
from tunelab.store import lifecycle
from tunelab.store.input_model import set_input_model
from tunelab.store.model_listing import ModelQuery, list_models
from tunelab.store.models import (
    create_model,
    delete_model,
    get_model,
    publish_model,
    update_model,
)
from tunelab.store.tasks import get_task

DIGEST = "cd" * 32


def test_register_and_read(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "running")
        model = create_model(
            conn,
            name="resnet",
            task_id=task_id,
            framework="PyTorch",
            uri="s3://bucket/run/model.pt",
            config_text="depth: 18",
            labels={"cat": 0, "dog": 1},
            tags=["b", "a", "b"],
            comment="first",
            size=10,
            sha256=DIGEST.upper(),
        )
        assert model == {
            "id": model["id"],
            "name": "resnet",
            "project": get_task(conn, task_id)["project"],
            "task_id": task_id,
            "framework": "PyTorch",
            "uri": "s3://bucket/run/model.pt",
            "config_text": "depth: 18",
            "labels": {"cat": 0, "dog": 1},
            "tags": ["a", "b"],
            "comment": "first",
            "published": False,
            "archived": False,
            "size": 10,
            "sha256": DIGEST,
            "created": model["created"],
            "last_update": model["created"],
        }
        assert get_model(conn, model["id"]) == model


def test_project_defaults_to_the_tasks_then_default(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "running")
        assert create_model(conn, name="m", task_id=task_id)["project"]["name"] == "life"
        assert create_model(conn, name="m")["project"]["name"] == "Default"
        placed = create_model(conn, name="m", task_id=task_id, project="zoo/cv")
        assert (placed["project"]["name"], placed["task_id"]) == ("zoo/cv", task_id)
        bare = create_model(conn, name="m")
        assert (bare["task_id"], bare["uri"], bare["size"]) == (None, "", None)
        assert bare["sha256"] is None


def test_a_published_task_gains_no_output_model(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        published = task_in(conn, "published")
        with pytest.raises(Conflict, match="outputs of a published task"):
            create_model(conn, name="late", task_id=published)
        with pytest.raises(NotFound, match="no task"):
            create_model(conn, name="m", task_id="0" * 32)
        assert list_models(conn, ModelQuery())["total"] == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "n" * 1025},
        {"labels": {"cat": "0"}},
        {"labels": {"cat": True}},
        {"labels": {"": 1}},
        {"labels": {"cat": 2**63}},
        {"labels": ["cat"]},
        {"tags": "a"},
        {"tags": [""]},
        {"size": -5},
        {"sha256": "abc"},
        {"framework": "f" * 129},
        {"project": "a//b"},
    ],
)
def test_bad_input_is_refused(engine: sa.Engine, bad: dict[str, Any]) -> None:
    with engine.begin() as conn:
        with pytest.raises(InvalidInput):
            create_model(conn, **{"name": "m", **bad})
        assert list_models(conn, ModelQuery())["total"] == 0
        model = create_model(conn, name="m")
        changes = {k: v for k, v in bad.items() if k != "project"}
        if changes:
            with pytest.raises(InvalidInput):
                update_model(conn, model["id"], changes)
        assert get_model(conn, model["id"]) == model


def test_update_and_publish(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        model = create_model(conn, name="m", tags=["x"], size=1, sha256=DIGEST)
        changed = update_model(
            conn,
            model["id"],
            {"name": "m2", "labels": {"a": 3}, "tags": [], "size": None, "sha256": None},
        )
        assert (changed["name"], changed["labels"], changed["tags"]) == ("m2", {"a": 3}, [])
        assert (changed["size"], changed["sha256"]) == (None, None)
        assert changed["last_update"] >= model["last_update"]
        with pytest.raises(InvalidInput, match="cannot change"):
            update_model(conn, model["id"], {"published": True})
        published = publish_model(conn, model["id"])
        assert published["published"] is True
        assert publish_model(conn, model["id"]) == published, "publishing again changes nothing"
        with pytest.raises(Conflict, match="published: it is read-only except its tags and"):
            update_model(conn, model["id"], {"uri": "s3://elsewhere/m.pt"})
        with pytest.raises(Conflict, match="refused: labels, name"):
            update_model(conn, model["id"], {"name": "m3", "labels": {}, "comment": "ok"})
        assert get_model(conn, model["id"]) == published
        # Tags and comment change; the other fields sent unchanged are no change.
        annotated = update_model(
            conn, model["id"], {"tags": ["best"], "comment": "final", "name": "m2"}
        )
        assert (annotated["tags"], annotated["comment"]) == (["best"], "final")
        for missing in ("0" * 32, "bad-id"):
            with pytest.raises(NotFound, match="no model"):
                update_model(conn, missing, {"comment": ""})
            with pytest.raises(NotFound, match="no model"):
                publish_model(conn, missing)
            with pytest.raises(NotFound, match="no model"):
                get_model(conn, missing)


def test_delete_refused_while_a_task_starts_from_it(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        model = create_model(conn, name="base", uri="file:///w/base.pt")
        task_id = task_in(conn, "draft")
        set_input_model(conn, task_id, model["id"])
        with pytest.raises(Conflict, match=f"input model of task {task_id}") as refused:
            delete_model(conn, model["id"])
        assert refused.value.detail == {"task_id": task_id}
        set_input_model(conn, task_id, None)
        assert delete_model(conn, model["id"]) == ["file:///w/base.pt"]
        with pytest.raises(NotFound):
            get_model(conn, model["id"])
        with pytest.raises(NotFound):
            delete_model(conn, model["id"])
        # A file another model still names is not offered for deletion.
        first = create_model(conn, name="a", uri="file:///w/shared.pt")
        create_model(conn, name="b", uri="file:///w/shared.pt")
        assert delete_model(conn, first["id"]) == []


def test_input_model_is_an_input(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        model = create_model(conn, name="base", framework="Keras", uri="file:///w/base.h5")
        draft = task_in(conn, "draft")
        task = set_input_model(conn, draft, model["id"])
        assert task["input_model"] == {
            "id": model["id"],
            "name": "base",
            "uri": "file:///w/base.h5",
            "framework": "Keras",
        }
        assert set_input_model(conn, draft, None)["input_model"] is None
        running = task_in(conn, "running")
        with pytest.raises(Conflict, match="cannot edit the inputs of a running task"):
            set_input_model(conn, running, model["id"])
        assert set_input_model(conn, running, model["id"], by_run=True)["input_model"]
        for status in ("queued", "completed", "failed", "stopped", "published"):
            task_id = task_in(conn, status)
            with pytest.raises(Conflict, match=f"inputs of a {status} task"):
                set_input_model(conn, task_id, model["id"], by_run=True)
            assert get_task(conn, task_id)["input_model"] is None
        with pytest.raises(NotFound, match="no model"):
            set_input_model(conn, draft, "0" * 32)
        with pytest.raises(NotFound, match="no task"):
            set_input_model(conn, "0" * 32, model["id"])
        assert get_task(conn, draft)["input_model"] is None


def test_a_tasks_output_models_newest_first(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "running")
        first = create_model(conn, name="epoch1", task_id=task_id, uri="u1")
        second = create_model(conn, name="epoch2", task_id=task_id, framework="JAX")
        publish_model(conn, first["id"])
        outputs = get_task(conn, task_id)["output_models"]
        assert [m["id"] for m in outputs] == [second["id"], first["id"]]
        assert outputs[1] == {
            "id": first["id"],
            "name": "epoch1",
            "uri": "u1",
            "framework": "",
            "published": True,
        }


# --- listing --------------------------------------------------------------------------------


def names(conn: sa.Connection, **query: Any) -> list[str]:
    return [m["name"] for m in list_models(conn, ModelQuery(**query))["items"]]


def test_filters(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        task_id = task_in(conn, "running")
        create_model(conn, name="Alpha 100%", project="zoo", framework="PyTorch", tags=["a", "b"])
        create_model(conn, name="beta", project="zoo/cv", framework="PyTorch", tags=["a"])
        create_model(conn, name="gamma", project="zoo_x", task_id=task_id)
        delta = create_model(conn, name="alpha", project="other", framework="Keras")
        publish_model(conn, delta["id"])
        assert names(conn, project="zoo", order_by="name") == ["Alpha 100%", "beta"]
        assert names(conn, project="zoo", include_subprojects=False) == ["Alpha 100%"]
        assert names(conn, tags=("a",), order_by="name") == ["Alpha 100%", "beta"]
        assert names(conn, tags=("a", "b")) == ["Alpha 100%"]
        assert names(conn, framework="Keras") == ["alpha"]
        assert names(conn, published=True) == ["alpha"]
        assert len(names(conn, published=False)) == 3
        assert names(conn, search="ALPHA", order_by="name") == ["Alpha 100%", "alpha"]
        assert names(conn, search="%") == ["Alpha 100%"]
        assert names(conn, name="alpha") == ["alpha"]
        assert names(conn, task_id=task_id) == ["gamma"]
        page = list_models(conn, ModelQuery(project="zoo", framework="PyTorch", tags=("b",)))
        assert (page["total"], page["page"], page["page_size"]) == (1, 1, 50)
        with pytest.raises(NotFound, match="no project named"):
            list_models(conn, ModelQuery(project="nowhere"))
        with pytest.raises(InvalidInput, match="NUL"):
            list_models(conn, ModelQuery(search="a\x00"))


@pytest.mark.parametrize("field", ["name", "created", "last_update", "framework"])
def test_sorts_and_pages_without_overlap(engine: sa.Engine, field: str) -> None:
    with engine.begin() as conn:
        for i in range(7):
            create_model(conn, name=f"m{i % 3}", framework=f"f{i % 2}")
        everything = list_models(conn, ModelQuery(order_by=field, page_size=500))["items"]
        values = [m[field] for m in everything]
        assert values == sorted(values)
        backwards = list_models(conn, ModelQuery(order_by=f"-{field}", page_size=500))["items"]
        assert [m["id"] for m in backwards] == [m["id"] for m in reversed(everything)]
        pages = [
            list_models(conn, ModelQuery(order_by=field, page=p, page_size=3)) for p in (1, 2, 3)
        ]
        assert [m["id"] for page in pages for m in page["items"]] == [m["id"] for m in everything]
        assert {page["total"] for page in pages} == {7}


def test_bad_sorts_and_pages(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(InvalidInput, match="cannot sort models by 'labels'") as refused:
            list_models(conn, ModelQuery(order_by="labels"))
        assert refused.value.detail == {"valid": ["name", "created", "last_update", "framework"]}
        with pytest.raises(InvalidInput, match="page_size"):
            list_models(conn, ModelQuery(page_size=501))
        with pytest.raises(InvalidInput, match="page must"):
            list_models(conn, ModelQuery(page=0))


def test_clone_shares_the_input_model(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        model = create_model(conn, name="base")
        source = task_in(conn, "draft")
        set_input_model(conn, source, model["id"])
        clone = lifecycle.clone(conn, source)
        assert clone["input_model"]["id"] == model["id"]
        set_input_model(conn, source, None)
        with pytest.raises(Conflict, match=f"input model of task {clone['id']}"):
            delete_model(conn, model["id"])


def test_archived_models_leave_the_listing_and_come_back(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        project = "archive-" + create_model(conn, name="probe")["id"][:8]
        kept = create_model(conn, name="kept", project=project)
        shelved = create_model(conn, name="shelved", project=project)
        publish_model(conn, shelved["id"])
        # Archiving is not an edit: a published model may be archived.
        assert update_model(conn, shelved["id"], {"archived": True})["archived"] is True
        assert kept["archived"] is False

        def names(archived: str) -> list[str]:
            query = ModelQuery(project=project, archived=archived, order_by="name")
            return [m["name"] for m in list_models(conn, query)["items"]]

        assert names("false") == ["kept"]
        assert names("true") == ["shelved"]
        with pytest.raises(InvalidInput, match="archived must be true or false"):
            update_model(conn, kept["id"], {"archived": None})
        update_model(conn, shelved["id"], {"archived": False})
        assert names("false") == ["kept", "shelved"]
        assert names("true") == []
        assert names("all") == ["kept", "shelved"]
        with pytest.raises(InvalidInput, match="archived must be one of"):
            names("maybe")
