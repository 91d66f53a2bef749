"""In-memory payload indexes, one per indexed field.

An index maps each value found at its field (lists flattened, as filters see
them) to the set of labels of the points holding it. ``keyword`` indexes
strings, ``bool`` booleans, ``integer`` and ``float`` numbers (both keep every
number, so that ``match`` and ``range`` answers are exact). Indexes are rebuilt
from LMDB when a collection opens; LMDB stays the source of truth.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from vectron.errors import InvalidArgument
from vectron.store.filters import MAX_KEY_LENGTH, field_values, scalar_key

INDEX_TYPES = ("keyword", "integer", "float", "bool")
_KIND_OF_TYPE = {"keyword": "s", "integer": "n", "float": "n", "bool": "b"}


def check_index_field(field_name: Any, where: str = "field") -> str:
    """A payload index's field: a dotted path like ``a.b`` (as filter keys are); else
    InvalidArgument naming ``where``."""
    if not isinstance(field_name, str) or not field_name or len(field_name) > MAX_KEY_LENGTH or "" in field_name.split("."):
        raise InvalidArgument(
            f"{where}: a payload index field must be a dotted path like 'a.b' of at most {MAX_KEY_LENGTH} characters, "
            f"got {field_name!r}",
            field=where,
        )
    return field_name


def check_index_type(index_type: Any, where: str = "type") -> str:
    """A payload index type (keyword, integer, float or bool); else InvalidArgument naming ``where``."""
    if index_type not in INDEX_TYPES:
        raise InvalidArgument(f"{where}: index type must be one of {', '.join(INDEX_TYPES)}, got {index_type!r}", field=where)
    return str(index_type)


@dataclass(frozen=True)
class IndexInfo:
    """A payload index as a collection lists it: declared, or built by the store (``automatic``)."""

    field: str
    type: str
    automatic: bool = False


class FieldIndex:
    """Value -> labels for one payload field."""

    def __init__(self, key: str, index_type: str) -> None:
        self.key = key
        self.index_type = index_type
        self._kind = _KIND_OF_TYPE[index_type]
        self._postings: dict[tuple[str, Any], set[int]] = {}
        self._values_of_label: dict[int, list[tuple[str, Any]]] = {}
        self._sorted_numbers: list[float] | None = None

    def update(self, label: int, payload: dict[str, Any] | None) -> None:
        """Index ``label`` with ``payload``; ``None`` removes it."""
        for value_key in self._values_of_label.pop(label, ()):
            holders = self._postings[value_key]
            holders.discard(label)
            if not holders:
                del self._postings[value_key]
                self._sorted_numbers = None
        if payload is None:
            return
        keys = {k for v in field_values(payload, self.key) if (k := scalar_key(v)) is not None and k[0] == self._kind}
        if not keys:
            return
        self._values_of_label[label] = list(keys)
        for value_key in keys:
            existing = self._postings.get(value_key)
            if existing is None:
                self._postings[value_key] = {label}
                self._sorted_numbers = None
            else:
                existing.add(label)

    def sizes(self) -> tuple[int, int]:
        """(point-value pairs, distinct values) held: what the index's memory grows with."""
        return sum(len(v) for v in self._values_of_label.values()), len(self._postings)

    def lookup_values(self, values: list[Any]) -> set[int] | None:
        """Labels holding any of ``values``; ``None`` if this index cannot answer exactly."""
        keys = [scalar_key(v) for v in values]
        if any(k is None or k[0] != self._kind for k in keys):
            return None
        return set().union(*(self._postings.get(k, ()) for k in keys))  # type: ignore[arg-type]

    def lookup_range(self, bounds: dict[str, float]) -> set[int] | None:
        if self._kind != "n":
            return None
        if self._sorted_numbers is None:
            self._sorted_numbers = sorted(v for kind, v in self._postings if kind == "n")
        numbers = self._sorted_numbers
        lo = 0
        if "gte" in bounds:
            lo = bisect.bisect_left(numbers, bounds["gte"])
        if "gt" in bounds:
            lo = max(lo, bisect.bisect_right(numbers, bounds["gt"]))
        hi = len(numbers)
        if "lte" in bounds:
            hi = bisect.bisect_right(numbers, bounds["lte"])
        if "lt" in bounds:
            hi = min(hi, bisect.bisect_left(numbers, bounds["lt"]))
        return set().union(*(self._postings[("n", number)] for number in numbers[lo:hi]))
