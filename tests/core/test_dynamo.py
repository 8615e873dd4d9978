import math

import pytest

from snapqueue_core.dynamo import from_item, to_item


def test_round_trip_of_nested_values() -> None:
    values = {
        "s": "text",
        "i": 7,
        "f": 1.5,
        "b": True,
        "list": [1, "a", {"x": 0.25}],
        "map": {"nested": {"deep": False}},
        "null": None,
    }
    item = to_item({**values, "gone": None})
    assert "gone" not in item
    assert from_item(item) == {k: v for k, v in values.items() if v is not None}


def test_nan_is_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        to_item({"x": math.nan})


def test_unknown_types_are_refused() -> None:
    with pytest.raises(TypeError):
        to_item({"x": object()})
