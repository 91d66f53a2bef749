"""A Store: a folder of collections, each in its own LMDB environment.

Layout::

    <root>/collections/<name>/   CURRENT, lmdb-<generation>/{data,lock}.mdb, index.hnsw, index.json

Collections are created in a staging folder and renamed into place, and
dropped by renaming them away before deleting, so a crash never leaves a
half-made or half-deleted collection visible.
"""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import threading
import uuid
from typing import Any

from vectron.errors import CollectionAlreadyExists, CollectionNotFound, InvalidArgument, StorageError
from vectron.limits import DISTANCES
from vectron.store.collection import Collection
from vectron.store.types import CollectionConfig
from vectron.store.validation import MAX_DIMENSION, check_hnsw, check_int, check_name

__all__ = ["MAX_DIMENSION", "Store", "check_hnsw", "check_name", "open"]  # check_* and MAX_DIMENSION: used by placement

log = logging.getLogger(__name__)


class Store:
    """The embedded engine: open with ``vectron.open(path)``; a context manager."""

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = True, map_size: int = 1 << 36) -> None:
        """``durable=False`` skips fsync on commit: faster, but a power loss may lose recent batches."""
        self.path = pathlib.Path(path)
        self._root = self.path / "collections"
        try:
            self._root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot use {self.path} as a data folder: {exc}") from exc
        self._options: dict[str, Any] = {"durable": durable, "map_size": map_size}
        self._open: dict[str, Collection] = {}
        self._lock = threading.Lock()
        self._closed = False
        for leftover in self._root.glob(".*"):  # staging or dropped folders of an interrupted create/drop
            shutil.rmtree(leftover, ignore_errors=True)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every open collection (saving their indexes). Idempotent."""
        with self._lock:
            for collection in self._open.values():
                collection.close()
            self._open.clear()
            self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("the store is closed")

    def create_collection(
        self, name: str, dimension: int, distance: str = "cosine", hnsw: dict[str, int] | None = None, *, auto_index: bool = True
    ) -> Collection:
        """Create a collection; ``hnsw`` may set m, ef_construct and the default search ef;
        ``auto_index`` False: no automatic payload indexes (see vectron.store.auto_index)."""
        check_name(name)
        if not isinstance(auto_index, bool):
            raise InvalidArgument(f"auto_index must be true or false, got {auto_index!r}", field="auto_index")
        dimension = check_int(dimension, "dimension", 1, MAX_DIMENSION)
        if distance not in DISTANCES:
            raise InvalidArgument(f"distance must be one of {', '.join(DISTANCES)}, got {distance!r}", field="distance")
        config = CollectionConfig(name, dimension, distance, check_hnsw(hnsw), auto_index=auto_index)
        with self._lock:
            self._check_open()
            if (self._root / name).exists():
                raise CollectionAlreadyExists(f"collection {name!r} already exists", field="name")
            staging = self._root / f".create-{uuid.uuid4().hex}"
            try:
                Collection.create(staging, config, **self._options).close()
                os.rename(staging, self._root / name)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            collection = Collection(self._root / name, **self._options)
            self._open[name] = collection
            return collection

    def collection(self, name: str) -> Collection:
        """The collection called ``name`` (opened on first use)."""
        check_name(name)
        with self._lock:
            self._check_open()
            collection = self._open.get(name)
            if collection is None:
                if not Collection.exists(self._root / name):
                    raise CollectionNotFound(f"collection {name!r} does not exist", field="name")
                collection = self._open[name] = Collection(self._root / name, **self._options)
            return collection

    def list_collections(self) -> list[str]:
        self._check_open()
        return sorted(p.name for p in self._root.iterdir() if not p.name.startswith(".") and Collection.exists(p))

    def drop_collection(self, name: str) -> None:
        """Delete a collection and its files."""
        check_name(name)
        with self._lock:
            self._check_open()
            folder = self._root / name
            if not folder.exists():
                raise CollectionNotFound(f"collection {name!r} does not exist", field="name")
            collection = self._open.pop(name, None)
            if collection is not None:
                collection.close()
            trash = self._root / f".drop-{uuid.uuid4().hex}"
            os.rename(folder, trash)
            shutil.rmtree(trash)


def open(path: str | os.PathLike[str], **options: Any) -> Store:
    """Open (or create) the store in the folder ``path``."""
    return Store(path, **options)
