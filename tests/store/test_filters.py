"""Filter semantics, validation, and the planner's agreement with plain evaluation."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vectron import errors
from vectron.store.filters import compile_filter
from vectron.store.payload_index import FieldIndex

PAYLOAD = {"a": {"b": 3, "tags": ["x", "y"]}, "n": 2.5, "flag": True, "none": None, "empty": [], "list": [{"c": 1}, {"c": 2}]}


@pytest.mark.parametrize(
    "spec,expected",
    [
        ({}, True),
        ({"must": [{"key": "a.b", "match": {"value": 3}}]}, True),
        ({"must": [{"key": "a.b", "match": {"value": "3"}}]}, False),
        ({"must": [{"key": "flag", "match": {"value": True}}]}, True),
        ({"must": [{"key": "a.b", "match": {"value": True}}]}, False),  # True is not 3, and 1 is not True
        ({"must": [{"key": "a.tags", "match": {"value": "y"}}]}, True),
        ({"must": [{"key": "a.tags", "match": {"any": ["z", "x"]}}]}, True),
        ({"must": [{"key": "a.tags", "match": {"any": []}}]}, False),
        ({"must": [{"key": "list.c", "match": {"value": 2}}]}, True),
        ({"must": [{"key": "n", "range": {"gt": 2, "lte": 2.5}}]}, True),
        ({"must": [{"key": "n", "range": {"lt": 2.5}}]}, False),
        ({"must": [{"key": "flag", "range": {"gte": 0}}]}, False),  # booleans are not numbers
        ({"must": [{"is_empty": {"key": "empty"}}, {"is_empty": {"key": "none"}}, {"is_empty": {"key": "missing"}}]}, True),
        ({"must": [{"is_empty": {"key": "a.tags"}}]}, False),
        ({"must": [{"is_null": {"key": "none"}}]}, True),
        ({"must": [{"is_null": {"key": "missing"}}]}, False),
        ({"must": [{"has_id": [1, "p"]}]}, True),
        ({"must": [{"has_id": [2]}]}, False),
        ({"should": [{"has_id": [2]}, {"key": "n", "range": {"gte": 0}}]}, True),
        ({"should": [{"has_id": [2]}, {"key": "n", "range": {"lt": 0}}]}, False),
        ({"must_not": [{"key": "a.b", "match": {"value": 3}}]}, False),
        ({"must": [{"must_not": [{"key": "a.b", "match": {"value": 4}}]}]}, True),
        ({"must": {"key": "a.b", "match": {"value": 3}}}, True),  # a single condition instead of a list
    ],
)
def test_semantics(spec, expected) -> None:
    assert compile_filter(spec).matches("p", PAYLOAD) is expected


@pytest.mark.parametrize(
    "spec",
    [
        [],
        "must",
        {"must": "x"},
        {"mus": []},
        {"must": [{}]},
        {"must": [1]},
        {"must": [{"key": "a"}]},
        {"must": [{"key": "", "match": {"value": 1}}]},
        {"must": [{"key": "a..b", "match": {"value": 1}}]},
        {"must": [{"key": 5, "match": {"value": 1}}]},
        {"must": [{"key": "a", "match": {"value": 1.5}}]},
        {"must": [{"key": "a", "match": {"value": None}}]},
        {"must": [{"key": "a", "match": {"value": [1]}}]},
        {"must": [{"key": "a", "match": {"any": "x"}}]},
        {"must": [{"key": "a", "match": {"value": 1, "any": [1]}}]},
        {"must": [{"key": "a", "match": {"text": "x"}}]},
        {"must": [{"key": "a", "range": {}}]},
        {"must": [{"key": "a", "range": {"gt": "1"}}]},
        {"must": [{"key": "a", "range": {"gt": float("nan")}}]},
        {"must": [{"key": "a", "range": {"gt": True}}]},
        {"must": [{"key": "a", "range": {"above": 1}}]},
        {"must": [{"key": "a", "match": {"value": 1}, "range": {"gt": 1}}]},
        {"must": [{"has_id": 5}]},
        {"must": [{"has_id": [-1]}]},
        {"must": [{"is_empty": "a"}]},
        {"must": [{"is_empty": {"key": "a", "x": 1}}]},
        {"must": [{"nested": {}}]},
    ],
)
def test_invalid_filters_are_errors(spec) -> None:
    with pytest.raises(errors.InvalidFilter) as caught:
        compile_filter(spec)
    assert caught.value.field == "filter" and caught.value.message


def test_too_deep_is_an_error() -> None:
    spec: dict = {"must": [{"key": "a", "match": {"value": 1}}]}
    for _ in range(20):
        spec = {"must": [spec]}
    with pytest.raises(errors.InvalidFilter):
        compile_filter(spec)


# --- the planner: index answers equal plain evaluation -------------------------------------------

values = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", "c"]), st.booleans(), st.floats(-3, 3, allow_nan=False))
payloads = st.fixed_dictionaries(
    {}, optional={"k": st.one_of(values, st.lists(values, max_size=3)), "num": st.one_of(st.integers(-3, 3), st.floats(-3, 3, allow_nan=False)), "b": st.booleans()}
)
conditions = st.one_of(
    st.builds(lambda v: {"key": "k", "match": {"value": v}}, st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b"]), st.booleans())),
    st.builds(lambda vs: {"key": "k", "match": {"any": vs}}, st.lists(st.sampled_from(["a", "b", "c"]), max_size=3)),
    st.builds(lambda lo, hi: {"key": "num", "range": {"gte": lo, "lt": hi}}, st.integers(-3, 3), st.integers(-3, 3)),
    st.builds(lambda v: {"key": "b", "match": {"value": v}}, st.booleans()),
    st.builds(lambda ids: {"has_id": ids}, st.lists(st.integers(0, 30), max_size=4)),
    st.just({"is_empty": {"key": "k"}}),
)
filters = st.recursive(
    st.fixed_dictionaries({}, optional={"must": st.lists(conditions, max_size=3), "should": st.lists(conditions, max_size=3), "must_not": st.lists(conditions, max_size=2)}),
    lambda inner: st.fixed_dictionaries(
        {"must": st.lists(st.one_of(conditions, inner.filter(bool)), min_size=1, max_size=2)},
        optional={"must_not": st.lists(inner.filter(bool), max_size=1)},
    ),
    max_leaves=6,
)


class _View:
    def __init__(self, points: dict[int, dict], indexes: dict[str, FieldIndex]) -> None:
        self.points, self.indexes = points, indexes

    def field_index(self, key):
        return self.indexes.get(key)

    def all_labels(self):
        return set(self.points)

    def labels_of_ids(self, ids):
        return {i for i in ids if i in self.points}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(points=st.lists(payloads, min_size=0, max_size=25), spec=filters, index_k=st.sampled_from(["keyword", "integer", "bool", None]))
def test_planner_agrees_with_evaluation(points, spec, index_k) -> None:
    """Labels are point ids here. Candidates must contain every match; exact ones must equal them."""
    by_label = dict(enumerate(points))
    indexes = {"num": FieldIndex("num", "float"), "b": FieldIndex("b", "bool")}
    if index_k:
        indexes["k"] = FieldIndex("k", index_k)
    for label, payload in by_label.items():
        for index in indexes.values():
            index.update(label, payload)
    cond = compile_filter(spec)
    expected = {label for label, payload in by_label.items() if cond.matches(label, payload)}
    found = cond.candidates(_View(by_label, indexes))
    if found is not None:
        assert expected <= found.labels
        if found.exact:
            assert found.labels == expected


def test_field_index_removal_and_ranges() -> None:
    index = FieldIndex("x", "integer")
    index.update(1, {"x": 5})
    index.update(2, {"x": [5, 7]})
    index.update(3, {"x": 7.0})
    assert index.lookup_values([5]) == {1, 2}
    assert index.lookup_range({"gt": 5}) == {2, 3}
    index.update(2, None)
    assert index.lookup_values([5]) == {1} and index.lookup_range({"gte": 6, "lte": 7}) == {3}
    assert index.lookup_values(["5"]) is None  # a keyword value cannot be answered by a number index
