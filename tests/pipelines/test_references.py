"""References between steps keep their types; the graph refuses what cannot run."""

from __future__ import annotations

from typing import Any

import pytest

from tunelab.errors import InvalidInput
from tunelab.pipelines import graph
from tunelab.pipelines.graph import Node
from tunelab.pipelines.references import Reference, references_in, resolve, task_field

TASK: dict[str, Any] = {
    "id": "t1",
    "name": "data",
    "status": "completed",
    "hyperparameters": {
        "Args": {
            "rows": {"value": "5", "type": "int"},
            "ratio": {"value": "0.25", "type": "float"},
            "sizes": {"value": "[1, 2]", "type": "list"},
        }
    },
    "artifacts": {"table": {"uri": "tunelab://p/t1/table.json", "sha256": "ab" * 32}},
    "output_models": [{"id": "m2", "uri": "file:///new.pt"}, {"id": "m1", "uri": "file:///old.pt"}],
}


def lookup(ref: Reference) -> Any:
    if ref.step == "pipeline":
        return {"lr": 0.1, "epochs": 3}[ref.path[0]]
    return task_field(TASK, ref)


def test_a_whole_reference_keeps_the_referenced_type() -> None:
    assert resolve("${data.parameters.Args/rows}", lookup) == 5
    assert resolve("${data.parameters.Args/ratio}", lookup) == 0.25
    assert resolve("${data.parameters.Args/sizes}", lookup) == [1, 2]
    assert resolve("${pipeline.epochs}", lookup) == 3
    assert resolve(" ${pipeline.lr} ", lookup) == 0.1
    assert resolve("${data.id}", lookup) == "t1"


def test_references_inside_text_and_structures_are_replaced() -> None:
    assert (
        resolve("rows=${data.parameters.Args/rows}, lr=${pipeline.lr}", lookup) == "rows=5, lr=0.1"
    )
    assert resolve({"a": ["${pipeline.epochs}"], "b": 7}, lookup) == {"a": [3], "b": 7}


def test_artifacts_and_models() -> None:
    assert resolve("${data.artifacts.table.url}", lookup) == "tunelab://p/t1/table.json"
    assert resolve("${data.artifacts.table.sha256}", lookup) == "ab" * 32
    assert resolve("${data.models.output.-1.url}", lookup) == "file:///new.pt"
    assert resolve("${data.models.output.0.id}", lookup) == "m1"


@pytest.mark.parametrize(
    "text",
    ["${data.parameters.Args/missing}", "${data.artifacts.nothing.url}",
     "${data.models.output.5.url}", "${data.bogus}", "${data}"],
)  # fmt: skip
def test_what_does_not_resolve_is_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput):
        resolve(text, lookup)


def test_references_imply_parents_and_cycles_are_refused() -> None:
    train = Node("train", parameter_override={"Args/url": "${data.artifacts.table.url}"})
    assert graph.implied_parents(train) == ["data"]
    assert [r.step for r in references_in({"x": ["${a.id}", "${pipeline.p}"]})] == ["a", "pipeline"]
    nodes = {"a": Node("a", parents=["b"]), "b": Node("b", parents=["a"])}
    with pytest.raises(InvalidInput, match="cycle"):
        graph.check(nodes, [])
    with pytest.raises(InvalidInput, match="unknown step"):
        graph.check({"a": Node("a", parents=["zzz"])}, [])
    with pytest.raises(InvalidInput, match="unknown parameter"):
        graph.check({"a": Node("a", parameter_override={"A/x": "${pipeline.nope}"})}, [])
    ordered = {"c": Node("c", parents=["b"]), "b": Node("b", parents=["a"]), "a": Node("a")}
    assert graph.order(ordered) == ["a", "b", "c"]


def test_ready_and_blocked_steps() -> None:
    nodes = {"a": Node("a"), "b": Node("b", parents=["a"]), "c": Node("c", parents=["a"])}
    assert [n.name for n in graph.ready(nodes)] == ["a"]
    nodes["a"].status = graph.CACHED
    assert [n.name for n in graph.ready(nodes)] == ["b", "c"]
    nodes["a"].status = graph.FAILED
    assert [n.name for n in graph.blocked(nodes)] == ["b", "c"]
