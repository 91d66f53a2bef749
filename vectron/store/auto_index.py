"""Automatic payload indexes: a field that filters use gets an index, built in the background.

A filter condition on a field with no index is answered by reading and decoding
every payload. The first time the planner meets such a field (``missed``), the
collection builds an automatic :class:`~vectron.store.payload_index.FieldIndex`
for it on a background thread; from then on the field is answered like a
declared index (same structure, same cost). Its type is inferred from the stored
values (the most common scalar kind: strings -> keyword, booleans -> bool,
numbers -> float, which answers integer matches and ranges too).

Memory is budgeted per collection (``AUTO_INDEX_MEMORY`` by default): an index
costs about ``LABEL_VALUE_BYTES`` per (point, value) pair plus ``VALUE_BYTES``
per distinct value (measured with tracemalloc on CPython 3.11: ~300 B/point for a
low-cardinality keyword, ~500 B/point for unique floats). When a new one would not
fit, the least recently used automatic indexes are dropped first; one that cannot
fit even alone is not built (and not retried until the collection reopens).
Automatic indexes live in memory only: a reopened or restored collection starts
without them and builds them again on use. A collection with ``auto_index`` off
never builds one.

This module owns the bookkeeping (:class:`AutoIndexes`: which fields are built,
pending or refused, their last use, the budget); the build thread, the locks and
the build itself are ``Collection``'s (:mod:`vectron.store.indexing`).
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any

from vectron.store.payload_index import FieldIndex

__all__ = ["AUTO_INDEX_MEMORY", "LABEL_VALUE_BYTES", "TYPE_SAMPLE", "AutoIndexes", "estimate_bytes", "infer_type"]

AUTO_INDEX_MEMORY = 64 << 20  # bytes of automatic indexes per collection
LABEL_VALUE_BYTES = 290  # per (point, value) pair: posting set entry + the per-point value list
VALUE_BYTES = 210  # per distinct value: the posting set and its dict entry
TYPE_SAMPLE = 1024  # payloads read to infer the type of a field

_TYPE_OF_KIND = {"s": "keyword", "b": "bool", "n": "float"}


def estimate_bytes(index: FieldIndex) -> int:
    """Approximate memory of a built index (see the module docstring for the constants)."""
    pairs, distinct = index.sizes()
    return pairs * LABEL_VALUE_BYTES + distinct * VALUE_BYTES


def infer_type(values: Iterable[Any]) -> str | None:
    """The index type for the most common scalar kind among ``values``; None if none is scalar."""
    kinds: Counter[str] = Counter()
    for value in values:
        if isinstance(value, bool):
            kinds["b"] += 1
        elif isinstance(value, (int, float)):
            kinds["n"] += 1
        elif isinstance(value, str):
            kinds["s"] += 1
    if not kinds:
        return None
    return _TYPE_OF_KIND[kinds.most_common(1)[0][0]]


class AutoIndexes:
    """Which fields have (or are getting) an automatic index, within a memory budget. Thread-safe."""

    def __init__(self, budget: int = AUTO_INDEX_MEMORY) -> None:
        self.budget = budget
        self._lock = threading.Lock()
        self._tick = itertools.count()
        self._built: dict[str, tuple[str, int]] = {}  # field -> (type, estimated bytes)
        self._last_used: dict[str, int] = {}
        self._pending: set[str] = set()
        self._refused: set[str] = set()

    def missed(self, key: str) -> bool:
        """A filter used ``key`` and no index answered: True if a build should start now."""
        with self._lock:
            if key in self._built or key in self._pending or key in self._refused:
                return False
            self._pending.add(key)
            return True

    def used(self, key: str) -> None:
        """An automatic index answered a filter (keeps it from being evicted first)."""
        if key in self._built:
            self._last_used[key] = next(self._tick)

    def is_automatic(self, key: str) -> bool:
        return key in self._built

    def built(self) -> dict[str, str]:
        """field -> type of the automatic indexes in use."""
        with self._lock:
            return {key: kind for key, (kind, _) in self._built.items()}

    def memory(self) -> int:
        """Estimated bytes of the automatic indexes in use."""
        with self._lock:
            return sum(size for _, size in self._built.values())

    def fits(self, size: int) -> bool:
        """Whether an index of ``size`` bytes fits the budget once every other automatic one is gone."""
        return size <= self.budget

    def admit(self, key: str, index_type: str, size: int) -> list[str] | None:
        """Account a built index of ``size`` bytes: the automatic indexes to evict (least
        recently used first) to make room, or None if it cannot fit (then it is refused)."""
        with self._lock:
            self._pending.discard(key)
            if size > self.budget:
                self._refused.add(key)
                return None
            evict: list[str] = []
            used = sum(s for _, s in self._built.values())
            for old in sorted(self._built, key=lambda k: self._last_used.get(k, -1)):
                if used + size <= self.budget:
                    break
                used -= self._built.pop(old)[1]
                self._last_used.pop(old, None)
                evict.append(old)
            self._built[key] = (index_type, size)
            self._last_used[key] = next(self._tick)
            return evict

    def refuse(self, key: str) -> None:
        """Do not build ``key`` (no scalar values, over budget); retried after a reopen."""
        with self._lock:
            self._pending.discard(key)
            self._refused.add(key)

    def abandon(self, key: str) -> None:
        """A build that did not happen (closed, turned off, declared meanwhile): may be tried again."""
        with self._lock:
            self._pending.discard(key)

    def forget(self, key: str) -> None:
        """``key`` is no longer automatic (declared now, or dropped)."""
        with self._lock:
            self._built.pop(key, None)
            self._last_used.pop(key, None)
            self._pending.discard(key)

    def clear(self) -> list[str]:
        """Forget everything (a reopen, a restore, auto indexing turned off); returns the fields that were built."""
        with self._lock:
            built = list(self._built)
            self._built.clear()
            self._last_used.clear()
            self._pending.clear()
            self._refused.clear()
            return built

