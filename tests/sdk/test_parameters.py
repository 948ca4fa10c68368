from __future__ import annotations

from tunelab.sdk import parameters as P


def test_types_survive_as_type_names() -> None:
    assert P.param_body(0.1) == {"value": "0.1", "type": "float", "description": ""}
    assert P.param_body(3)["type"] == "int"
    assert P.param_body(True) == {"value": "True", "type": "bool", "description": ""}
    assert P.param_body(None) == {"value": "", "type": "NoneType", "description": ""}
    assert P.param_body([1, 2]) == {"value": "[1, 2]", "type": "list", "description": ""}
    assert P.param_body({"a": 1})["value"] == '{"a": 1}'


def test_nested_dicts_flatten_with_slashes() -> None:
    flat = P.flatten({"opt": {"lr": 0.1, "betas": {"b1": 0.9}}, "epochs": 3, "empty": {}})
    assert flat == {"opt/lr": 0.1, "opt/betas/b1": 0.9, "epochs": 3, "empty": {}}


def test_group_by_section_takes_flat_and_nested_forms() -> None:
    grouped = P.group_by_section({"Args/lr": 0.5, "General": {"batch": 32}, "plain": "x"})
    assert grouped["Args"]["lr"]["value"] == "0.5"
    assert grouped["General"]["batch"] == {"value": "32", "type": "int", "description": ""}
    assert grouped["General"]["plain"]["value"] == "x"


def test_explicit_value_type_and_description() -> None:
    grouped = P.group_by_section({"Args/lr": {"value": 0.5, "description": "step size"}})
    assert grouped["Args"]["lr"] == {"value": "0.5", "type": "float", "description": "step size"}


def test_object_fields_are_public_data_attributes() -> None:
    class Config:
        def __init__(self) -> None:
            self.lr = 0.1
            self.layers = [64, 32]
            self._secret = 1

        def method(self) -> None:
            pass

    assert P.object_fields(Config()) == {"lr": 0.1, "layers": [64, 32]}


class _NoStr:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        return "NoStr()"


class _Nothing:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_a_value_that_cannot_be_written_falls_back_to_repr_then_its_type() -> None:
    assert P.param_body(_NoStr()) == {"value": "NoStr()", "type": "_NoStr", "description": ""}
    assert P.value_text(_Nothing()) == "<_Nothing>"
    assert P.value_text([1, _Nothing()]) == '[1, "<_Nothing>"]'  # an item as text too
    circular: list[object] = [1]
    circular.append(circular)
    assert P.value_text(circular) == "[1, [...]]"
    assert P.value_text({(1, 2): "tuple key"}) == "{(1, 2): 'tuple key'}"
    assert P.as_text(_Nothing()) == "<_Nothing>" and P.as_text("help") == "help"
