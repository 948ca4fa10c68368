"""Names and ids the SDK puts in API paths (queues, workers, artifacts, tasks, models) reach
the server whole, whatever characters they hold: each is one encoded segment, never a query,
a fragment or a way to another route."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tunelab.domain.path_names import key_path, segment
from tunelab.errors import NotFound
from tunelab.sdk.transport import ApiClient

# Legal names with characters that end or split a path if left as they are.
ODD = "gpu #1 ?fast=yes & 100%.v2"


@pytest.fixture
def client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as api:
        yield api


def test_segments_encode_what_could_leave_them() -> None:
    assert segment("data/aug.yaml") == "data%2Faug%2Eyaml"
    assert segment("..") == "%2E%2E"
    assert segment("a b?c#d%") == "a%20b%3Fc%23d%25"
    assert key_path("runs/x/weights.bin") == "runs/x/weights%2Ebin"


def test_queue_and_worker_names_with_odd_characters_reach_the_server_whole(
    client: ApiClient,
) -> None:
    queue = f"{ODD} {uuid.uuid4().hex[:6]}"
    worker = f"host:{queue}"
    client.register_worker(worker, [queue])
    task = client.create_task({"name": "t", "project": f"sdk-odd-{uuid.uuid4().hex[:6]}"})
    client.enqueue_task(task["id"], queue)
    entries = client.queue_entries(queue)
    assert [e["task"]["id"] for e in entries["items"]] == [task["id"]]
    taken = client.next_task(worker, timeout=1)
    assert taken is not None and taken["id"] == task["id"]
    assert client.heartbeat(worker, task["id"]) == {"stop": []}
    client.unregister_worker(worker)


@pytest.mark.parametrize("prefix", ["../models/", "x/../../models/", "%2E%2E/models/"])
def test_an_id_is_one_segment_so_it_never_reaches_another_route(
    client: ApiClient, prefix: str
) -> None:
    """``tunelab task delete ../models/ID`` deleted the model before ids were encoded."""
    model = client.create_model({"name": "kept", "project": f"sdk-ids-{uuid.uuid4().hex[:6]}"})
    with pytest.raises(NotFound):
        client.delete_task(f"{prefix}{model['id']}")
    with pytest.raises(NotFound):
        client.get_task(f"{prefix}{model['id']}")
    assert client.get_model(model["id"])["name"] == "kept"


def test_an_odd_id_or_query_value_is_not_found_not_a_crash(client: ApiClient) -> None:
    for odd in ("\x1f", "a\nb", "\x7f", " ", "\udcff"):
        with pytest.raises(NotFound):
            client.get_task(odd)
        with pytest.raises(NotFound):
            client.get_model(odd)
        assert client.list_tasks(search=f"none-{odd}")["items"] == []
