"""Payload filters: parsing, validation, evaluation and index planning.

A filter is JSON in the shape Qdrant users know::

    {"must": [cond, ...], "should": [cond, ...], "must_not": [cond, ...]}

where a condition is one of::

    {"key": "a.b", "match": {"value": v}}          # v: str, int or bool
    {"key": "a.b", "match": {"any": [v, ...]}}
    {"key": "a.b", "range": {"gt"|"gte"|"lt"|"lte": x, ...}}
    {"has_id": [id, ...]}
    {"is_empty": {"key": "a.b"}}                   # missing, null or []
    {"is_null": {"key": "a.b"}}                    # present and null
    {"must": ..., "should": ..., "must_not": ...}  # a nested filter

A key is a dotted path; where the path meets a list, every element is
considered, and a condition holds when any reached value satisfies it.
``must`` needs every condition, ``should`` at least one (when it is not empty),
``must_not`` none. Anything else is an ``InvalidFilter`` error, never a filter
that quietly matches nothing.

``compile_filter`` turns the JSON into a tree of conditions with two methods:
``matches(point_id, payload)`` and ``candidates(view)``, which uses payload
indexes to return a set of labels that contains every match (``exact`` when it
is precisely the matches) or ``None`` when the indexes cannot narrow it down.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from vectron.errors import InvalidArgument, InvalidFilter
from vectron.store.ids import PointId, check_id, encode_id

_MISSING = object()
MAX_FILTER_DEPTH = 16
MAX_KEY_LENGTH = 256


@dataclass(frozen=True)
class Candidates:
    """Labels that may match. ``exact``: they are exactly the matching points."""

    labels: set[int]
    exact: bool


class IndexView(Protocol):
    """What the planner needs from a collection's payload indexes."""

    def field_index(self, key: str) -> FieldIndexLike | None: ...

    def all_labels(self) -> set[int]: ...

    def labels_of_ids(self, ids: list[PointId]) -> set[int]: ...


class FieldIndexLike(Protocol):
    def lookup_values(self, values: list[Any]) -> set[int] | None: ...

    def lookup_range(self, bounds: dict[str, float]) -> set[int] | None: ...


def field_values(payload: dict[str, Any], key: str) -> Iterator[Any]:
    """Every value reached by the dotted ``key`` in ``payload`` (lists flattened)."""
    for value in _raw_values(payload, key):
        if isinstance(value, list):
            yield from value
        else:
            yield value


def _raw_values(payload: dict[str, Any], key: str) -> list[Any]:
    """The values at ``key``; lists met on the way are walked, a list at the end is kept whole."""
    level: list[Any] = [payload]
    for part in key.split("."):
        nxt: list[Any] = []
        for node in level:
            if isinstance(node, list):
                nxt.extend(item[part] for item in node if isinstance(item, dict) and part in item)
            elif isinstance(node, dict) and part in node:
                nxt.append(node[part])
        level = nxt
        if not level:
            break
    return level


def scalar_key(value: Any) -> tuple[str, Any] | None:
    """A hashable, type-aware key for equality matching (``True`` never equals ``1``)."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and value.is_integer():
            return ("n", int(value))
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    return None


class Condition:
    def matches(self, pid: PointId, payload: dict[str, Any]) -> bool:
        raise NotImplementedError

    def candidates(self, view: IndexView) -> Candidates | None:
        return None


@dataclass
class MatchValues(Condition):
    key: str
    keys: frozenset[tuple[str, Any]]
    values: list[Any]

    def matches(self, pid: PointId, payload: dict[str, Any]) -> bool:
        return any(scalar_key(v) in self.keys for v in field_values(payload, self.key))

    def candidates(self, view: IndexView) -> Candidates | None:
        index = view.field_index(self.key)
        labels = index.lookup_values(self.values) if index is not None else None
        return None if labels is None else Candidates(labels, True)


@dataclass
class Range(Condition):
    key: str
    bounds: dict[str, float]

    def matches(self, pid: PointId, payload: dict[str, Any]) -> bool:
        return any(
            isinstance(v, (int, float)) and not isinstance(v, bool) and in_range(v, self.bounds)
            for v in field_values(payload, self.key)
        )

    def candidates(self, view: IndexView) -> Candidates | None:
        index = view.field_index(self.key)
        labels = index.lookup_range(self.bounds) if index is not None else None
        return None if labels is None else Candidates(labels, True)


def in_range(value: float, bounds: dict[str, float]) -> bool:
    return (
        ("gt" not in bounds or value > bounds["gt"])
        and ("gte" not in bounds or value >= bounds["gte"])
        and ("lt" not in bounds or value < bounds["lt"])
        and ("lte" not in bounds or value <= bounds["lte"])
    )


@dataclass
class HasId(Condition):
    ids: list[PointId]
    keys: frozenset[bytes]

    def matches(self, pid: PointId, payload: dict[str, Any]) -> bool:
        return encode_id(pid) in self.keys

    def candidates(self, view: IndexView) -> Candidates | None:
        return Candidates(view.labels_of_ids(self.ids), True)


@dataclass
class IsEmpty(Condition):
    key: str

    def matches(self, pid: PointId, payload: dict[str, Any]) -> bool:
        return all(v is None or v == [] for v in _raw_values(payload, self.key))


@dataclass
class IsNull(Condition):
    key: str

    def matches(self, pid: PointId, payload: dict[str, Any]) -> bool:
        return any(v is None for v in _raw_values(payload, self.key))


@dataclass
class Filter(Condition):
    must: list[Condition]
    should: list[Condition]
    must_not: list[Condition]

    def matches(self, pid: PointId, payload: dict[str, Any]) -> bool:
        return (
            all(c.matches(pid, payload) for c in self.must)
            and (not self.should or any(c.matches(pid, payload) for c in self.should))
            and not any(c.matches(pid, payload) for c in self.must_not)
        )

    def candidates(self, view: IndexView) -> Candidates | None:
        parts: list[Candidates] = []
        exact = True
        for cond in self.must:
            found = cond.candidates(view)
            if found is None:
                exact = False
            else:
                parts.append(found)
                exact = exact and found.exact
        if self.should:
            found_should = [c.candidates(view) for c in self.should]
            if any(f is None for f in found_should):
                exact = False
            else:
                union: set[int] = set().union(*(f.labels for f in found_should if f is not None))
                parts.append(Candidates(union, all(f.exact for f in found_should if f is not None)))
                exact = exact and parts[-1].exact
        for cond in self.must_not:
            found = cond.candidates(view)
            if found is not None and found.exact:
                parts.append(Candidates(view.all_labels() - found.labels, True))
            else:
                exact = False
        if not parts:
            if exact:  # an empty filter: everything matches
                return Candidates(set(view.all_labels()), True)
            return None
        if len(parts) == 1:
            return Candidates(parts[0].labels, exact)
        parts.sort(key=lambda c: len(c.labels))
        return Candidates(parts[0].labels.intersection(*(p.labels for p in parts[1:])), exact)


def compile_filter(spec: Any) -> Filter | None:
    """Validate a JSON filter and compile it; ``None`` (no filter) stays ``None``."""
    if spec is None:
        return None
    return _compile_filter(spec, "filter", 0)


def _compile_filter(spec: Any, where: str, depth: int) -> Filter:
    if depth > MAX_FILTER_DEPTH:
        raise InvalidFilter(f"{where}: filters nest deeper than {MAX_FILTER_DEPTH} levels")
    if not isinstance(spec, dict):
        raise InvalidFilter(f"{where}: a filter must be an object with must/should/must_not, got {_kind(spec)}")
    unknown = set(spec) - {"must", "should", "must_not"}
    if unknown:
        raise InvalidFilter(f"{where}: unknown filter clause(s) {sorted(unknown)}; expected must, should, must_not")
    clauses: dict[str, list[Condition]] = {}
    for clause in ("must", "should", "must_not"):
        items = spec.get(clause, [])
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            raise InvalidFilter(f"{where}.{clause}: must be a list of conditions, got {_kind(items)}")
        clauses[clause] = [_compile_condition(c, f"{where}.{clause}[{i}]", depth) for i, c in enumerate(items)]
    return Filter(clauses["must"], clauses["should"], clauses["must_not"])


def _compile_condition(spec: Any, where: str, depth: int) -> Condition:
    if not isinstance(spec, dict) or not spec:
        raise InvalidFilter(f"{where}: a condition must be a non-empty object, got {_kind(spec)}")
    if set(spec) <= {"must", "should", "must_not"}:
        return _compile_filter(spec, where, depth + 1)
    if "has_id" in spec:
        _only(spec, {"has_id"}, where)
        raw = spec["has_id"]
        if not isinstance(raw, list):
            raise InvalidFilter(f"{where}.has_id: must be a list of point ids")
        try:
            ids = [check_id(v) for v in raw]
        except InvalidArgument as exc:
            raise InvalidFilter(f"{where}.has_id: {exc.message}") from None
        return HasId(ids, frozenset(encode_id(i) for i in ids))
    for name, cls in (("is_empty", IsEmpty), ("is_null", IsNull)):
        if name in spec:
            _only(spec, {name}, where)
            inner = spec[name]
            if not isinstance(inner, dict) or set(inner) != {"key"}:
                raise InvalidFilter(f'{where}.{name}: expected {{"key": "..."}}')
            return cls(_key(inner["key"], f"{where}.{name}.key"))
    if "key" not in spec:
        raise InvalidFilter(
            f"{where}: unknown condition {sorted(spec)}; expected key+match, key+range, has_id, is_empty, is_null "
            "or a nested filter"
        )
    key = _key(spec["key"], f"{where}.key")
    if "match" in spec:
        _only(spec, {"key", "match"}, where)
        return _compile_match(key, spec["match"], f"{where}.match")
    if "range" in spec:
        _only(spec, {"key", "range"}, where)
        return Range(key, _compile_range(spec["range"], f"{where}.range"))
    raise InvalidFilter(f"{where}: a condition on key {key!r} needs 'match' or 'range'")


def _compile_match(key: str, spec: Any, where: str) -> MatchValues:
    if not isinstance(spec, dict) or len(spec) != 1 or not set(spec) <= {"value", "any"}:
        raise InvalidFilter(f'{where}: expected {{"value": v}} or {{"any": [v, ...]}}')
    if "value" in spec:
        values = [spec["value"]]
    else:
        values = spec["any"]
        if not isinstance(values, list):
            raise InvalidFilter(f"{where}.any: must be a list of values")
    keys = []
    for v in values:
        k = scalar_key(v) if not isinstance(v, float) else None
        if k is None:
            raise InvalidFilter(f"{where}: match values must be strings, integers or booleans, got {v!r}")
        keys.append(k)
    return MatchValues(key, frozenset(keys), list(values))


def _compile_range(spec: Any, where: str) -> dict[str, float]:
    if not isinstance(spec, dict) or not spec:
        raise InvalidFilter(f"{where}: expected an object with gt, gte, lt and/or lte")
    unknown = set(spec) - {"gt", "gte", "lt", "lte"}
    if unknown:
        raise InvalidFilter(f"{where}: unknown bound(s) {sorted(unknown)}; expected gt, gte, lt, lte")
    for name, value in spec.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidFilter(f"{where}.{name}: must be a finite number, got {value!r}")
    return dict(spec)


def _key(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_KEY_LENGTH or "" in value.split("."):
        raise InvalidFilter(f"{where}: a key must be a non-empty dotted path like 'a.b', got {value!r}")
    return value


def _only(spec: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = set(spec) - allowed
    if extra:
        raise InvalidFilter(f"{where}: unexpected field(s) {sorted(extra)} next to {sorted(allowed)}")


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__

