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
pending or refused, their last use, the budget) and :class:`AutoIndexing`, the
part of ``Collection`` (mixed in) that starts a build thread when the planner
misses a field, builds under the collection's write mutex (writers wait, searches
do not) and installs the index under the exclusive lock.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from vectron.errors import InvalidArgument
from vectron.store.filters import field_values
from vectron.store.payload_index import FieldIndex, IndexInfo
from vectron.store.rwlock import RWLock
from vectron.store.types import CollectionConfig

__all__ = ["AUTO_INDEX_MEMORY", "AutoIndexes", "AutoIndexing", "estimate_bytes", "infer_type"]

log = logging.getLogger(__name__)

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


class AutoIndexing:
    """Automatic payload indexes of a collection (mixed into ``Collection``, which sets these
    attributes and calls :meth:`_auto_reset` whenever it (re)loads its in-memory state)."""

    config: CollectionConfig
    _write_mutex: threading.Lock
    _rw: RWLock
    _closed: bool
    _live: set[int]
    _field_indexes: dict[str, FieldIndex]
    _plans: dict[Any, Any]

    if TYPE_CHECKING:

        @property
        def name(self) -> str: ...

        def _check_open(self) -> None: ...

        def _build_field_index(self, key: str, index_type: str) -> FieldIndex: ...

        def _payload_sample(self, n: int) -> list[dict[str, Any]]: ...

        def _write_config(self, config: CollectionConfig) -> None: ...

    def _auto_reset(self) -> None:
        """Forget the automatic indexes (the in-memory state was rebuilt without them)."""
        if not hasattr(self, "_auto"):
            self._auto = AutoIndexes()
            self._auto_threads: list[threading.Thread] = []
            self._auto_threads_lock = threading.Lock()
        self._auto.clear()

    def payload_indexes(self) -> list[IndexInfo]:
        """The declared payload indexes, then the automatic ones, each by field."""
        with self._rw.read():
            declared = self.config.payload_indexes
            automatic = {k: t for k, t in self._auto.built().items() if k not in declared}
        return [IndexInfo(f, t) for f, t in sorted(declared.items())] + [IndexInfo(f, t, True) for f, t in sorted(automatic.items())]

    def set_auto_index(self, enabled: bool, *, memory: int | None = None) -> None:
        """Turn automatic payload indexes on or off (kept in the collection's config) and set
        their memory budget in bytes (this process only). Either way the automatic indexes
        built so far are dropped (and fields refused earlier may be tried again)."""
        if not isinstance(enabled, bool):
            raise InvalidArgument(f"auto_index must be true or false, got {enabled!r}", field="auto_index")
        if memory is not None and (isinstance(memory, bool) or not isinstance(memory, int) or memory < 0):
            raise InvalidArgument(f"memory must be a non-negative number of bytes, got {memory!r}", field="memory")
        with self._write_mutex:
            self._check_open()
            if memory is not None:
                self._auto.budget = memory
            if enabled != self.config.auto_index:
                self._write_config(dataclasses.replace(self.config, auto_index=enabled))
            with self._rw.write():
                for key in self._auto.clear():
                    if key not in self.config.payload_indexes:
                        self._field_indexes.pop(key, None)
                self._plans.clear()

    def wait_auto_indexes(self, timeout: float | None = None) -> bool:
        """Wait for the automatic index builds under way; False if some still run after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._auto_threads_lock:
            threads = list(self._auto_threads)
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in threads)

    def _auto_index_hit(self, key: str, index: FieldIndex | None) -> None:
        """The planner looked ``key`` up (hold the shared lock): no index starts a build, an
        automatic one is marked used."""
        if index is not None:
            self._auto.used(key)
        elif self.config.auto_index and key not in self.config.payload_indexes and not self._closed and self._auto.missed(key):
            thread = threading.Thread(target=self._build_auto_index, args=(key,), name=f"auto-index-{key}", daemon=True)
            with self._auto_threads_lock:
                self._auto_threads = [t for t in self._auto_threads if t.is_alive()] + [thread]
            thread.start()

    def _build_auto_index(self, key: str) -> None:
        """Build, account and install the automatic index of ``key`` (a background thread)."""
        try:
            with self._write_mutex:
                if self._closed or not self.config.auto_index or key in self._field_indexes or key in self.config.payload_indexes:
                    self._auto.abandon(key)
                    return
                index_type = infer_type(v for payload in self._payload_sample(TYPE_SAMPLE) for v in field_values(payload, key))
                if index_type is None or not self._auto.fits(LABEL_VALUE_BYTES * len(self._live)):
                    log.info("no automatic index on %r of %s (%s)", key, self.name, "no scalar values" if index_type is None else "over budget")
                    self._auto.refuse(key)
                    return
                index = self._build_field_index(key, index_type)
                size = estimate_bytes(index)
                with self._rw.write():  # accounted and installed at once: payload_indexes() never lists it early
                    evicted = self._auto.admit(key, index_type, size)
                    if evicted is None:
                        log.info("automatic index on %r of %s: %d bytes is over the budget of %d", key, self.name, size, self._auto.budget)
                        return
                    for old in evicted:
                        self._field_indexes.pop(old, None)
                    self._field_indexes[key] = index
                    self._plans.clear()
            log.info("built an automatic %s index on %r of %s (~%d bytes; evicted %s)", index_type, key, self.name, size, evicted or "none")
        except Exception:  # noqa: BLE001 - a background build must not kill anything; the field stays scanned
            log.exception("building the automatic index on %r of %s failed", key, self.name)
            self._auto.refuse(key)
