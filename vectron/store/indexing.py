"""Payload indexes of a collection: declared ones and automatic ones (mixed into ``Collection``).

Owns :class:`PayloadIndexing`: ``create_payload_index`` / ``drop_payload_index``
(the declared list lives in the collection's config, so reopened collections and
snapshots carry it), ``payload_indexes`` (declared, then automatic), the
automatic indexes' switch and budget (``set_auto_index``), and their life: the
planner reports a field it found no index for (``_auto_index_hit``), a background
thread infers the field's type from a sample of payloads and builds the index
under the collection's write mutex (writers wait, searches do not), then accounts
it (:class:`~vectron.store.auto_index.AutoIndexes`, evicting the least recently
used) and installs it under the exclusive lock, where the planner finds it like a
declared one.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import lmdb

from vectron.errors import InvalidArgument
from vectron.store import layout
from vectron.store.auto_index import LABEL_VALUE_BYTES, TYPE_SAMPLE, AutoIndexes, estimate_bytes, infer_type
from vectron.store.filters import field_values
from vectron.store.payload_index import FieldIndex, IndexInfo, check_index_field, check_index_type
from vectron.store.rwlock import RWLock
from vectron.store.types import CollectionConfig

__all__ = ["PayloadIndexing"]

log = logging.getLogger(__name__)


class PayloadIndexing:
    """Declared and automatic payload indexes of a collection (mixed into ``Collection``, which
    sets these attributes and calls :meth:`_auto_reset` whenever it (re)loads its in-memory state)."""

    config: CollectionConfig
    _write_mutex: threading.Lock
    _rw: RWLock
    _closed: bool
    _live: set[int]
    _field_indexes: dict[str, FieldIndex]
    _plans: dict[Any, Any]
    _version: int
    _env: lmdb.Environment
    _db: layout.Dbs

    if TYPE_CHECKING:

        @property
        def name(self) -> str: ...

        def _check_open(self) -> None: ...

        def _build_field_index(self, key: str, index_type: str) -> FieldIndex: ...

    # -- declared indexes ----------------------------------------------------------------
    def create_payload_index(self, field_name: str, index_type: str) -> bool:
        """Index a payload field (dotted path) as keyword, integer, float or bool (another type
        replaces the field's index). True if this changed the indexes, False if already there."""
        check_index_type(index_type)
        check_index_field(field_name)
        if self.config.payload_indexes.get(field_name) == index_type:
            return False
        return self._set_payload_indexes({**self.config.payload_indexes, field_name: index_type}, field_name)

    def drop_payload_index(self, field_name: str) -> bool:
        """Stop indexing a payload field. True if it was indexed, False if not."""
        check_index_field(field_name)
        if field_name not in self.config.payload_indexes:
            return False
        return self._set_payload_indexes({k: v for k, v in self.config.payload_indexes.items() if k != field_name}, field_name)

    def _set_payload_indexes(self, indexes: dict[str, str], changed: str) -> bool:
        """Store the declared index list and build or drop the index of ``changed``."""
        with self._write_mutex:
            self._check_open()
            if self.config.payload_indexes == indexes:
                return False
            self._write_config(dataclasses.replace(self.config, payload_indexes=indexes))
            index = self._build_field_index(changed, indexes[changed]) if changed in indexes else None
            with self._rw.write():
                if index is None:
                    self._field_indexes.pop(changed, None)
                else:
                    self._field_indexes[changed] = index
                self._plans.clear()
            self._auto.forget(changed)
            return True

    def _write_config(self, config: CollectionConfig) -> None:
        """Persist ``config`` (one transaction, the version moves) and make it current (hold the write mutex)."""
        with self._env.begin(write=True) as txn:
            layout.write_config(txn, self._db, config)
            version = layout.bump_version(txn, self._db)
        with self._rw.write():
            self.config = config
            self._version = version

    # -- automatic indexes ---------------------------------------------------------------
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
                with self._env.begin() as txn:
                    sample = [layout.load_payload(data) for _, data in itertools.islice(txn.cursor(db=self._db["payloads"]), TYPE_SAMPLE)]
                index_type = infer_type(v for payload in sample for v in field_values(payload, key))
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
        except Exception:
            log.exception("building the automatic index on %r of %s failed", key, self.name)
            self._auto.refuse(key)
