"""The in-memory HNSW index (hnswlib) beside a collection's LMDB state.

Labels are the collection's internal point numbers. An update re-adds the same
label (hnswlib updates the vector in place); a delete marks the label deleted,
and a later point that re-uses the label revives it with its own vector, so
space is reused. The index grows by doubling.

Beside the graph, a dense matrix of every vector by label (normalised for
cosine, as the graph keeps them) serves exact scoring of filtered candidates:
hnswlib's ``get_items`` costs ~20 µs per vector, a numpy gather far less. It
doubles the memory of the vectors, and is filled from LMDB when a saved
index is loaded (``remember``).

The index is saved with the LMDB state version it reflects and loaded only
when that version is still current; otherwise the collection rebuilds it.
Thread safety is the caller's: mutate under an exclusive lock, search under a
shared one (``Collection`` does this).
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
from dataclasses import dataclass

import hnswlib
import numpy as np

log = logging.getLogger(__name__)

_SPACE = {"cosine": "cosine", "dot": "ip", "euclid": "l2"}
_MIN_CAPACITY = 1024


@dataclass(frozen=True)
class HnswParams:
    m: int = 16
    ef_construct: int = 200
    ef: int = 100


class VectorIndex:
    def __init__(self, dimension: int, distance: str, params: HnswParams, capacity: int = _MIN_CAPACITY) -> None:
        self.dimension = dimension
        self.distance = distance
        self.params = params
        self._index = hnswlib.Index(space=_SPACE[distance], dim=dimension)
        self._index.init_index(
            max_elements=max(capacity, _MIN_CAPACITY), M=params.m, ef_construction=params.ef_construct, random_seed=100
        )
        self._index.set_ef(params.ef)
        self._matrix = np.zeros((0, dimension), dtype=np.float32)

    @property
    def ef(self) -> int:
        return int(self._index.ef)

    def set_ef(self, ef: int) -> None:
        self._index.set_ef(ef)

    def __len__(self) -> int:
        return int(self._index.element_count)

    def add(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        """Add or update ``labels`` with ``vectors`` (shape (n, d), float32)."""
        if len(labels) == 0:
            return
        needed = self._index.element_count + len(labels)
        capacity = max(self._index.max_elements, _MIN_CAPACITY)
        if needed > self._index.max_elements:
            while capacity < needed:
                capacity *= 2
            self._index.resize_index(capacity)
        self._index.add_items(vectors, labels)
        self.remember(labels, vectors)

    def remember(self, labels: np.ndarray, vectors: np.ndarray) -> None:
        """Keep ``vectors`` in the matrix for exact scoring (``add`` does this itself)."""
        if len(labels) == 0:
            return
        rows = int(np.max(labels)) + 1
        if rows > len(self._matrix):
            grown = np.zeros((max(rows, 2 * len(self._matrix), _MIN_CAPACITY), self.dimension), dtype=np.float32)
            grown[: len(self._matrix)] = self._matrix
            self._matrix = grown
        if self.distance == "cosine":
            vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        self._matrix[np.asarray(labels, dtype=np.int64)] = vectors

    def mark_deleted(self, labels: list[int]) -> None:
        for label in labels:
            self._index.mark_deleted(label)

    def knn(
        self, queries: np.ndarray, k: int, *, allowed: object = None, threads: int = -1
    ) -> tuple[np.ndarray, np.ndarray]:
        """Labels and hnswlib distances, each (n, k). Raises RuntimeError when fewer than k are reachable."""
        found: tuple[np.ndarray, np.ndarray] = self._index.knn_query(queries, k=k, num_threads=threads, filter=allowed)
        return found

    def vectors(self, labels: list[int] | np.ndarray) -> np.ndarray:
        """The stored vectors (normalised for cosine, as the index keeps them)."""
        return self._matrix[np.asarray(labels, dtype=np.int64)]

    def save(self, folder: pathlib.Path, version: int) -> None:
        """Write ``index.hnsw`` and ``index.json`` (the LMDB version it reflects), atomically."""
        tmp = folder / "index.hnsw.tmp"
        self._index.save_index(str(tmp))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, folder / "index.hnsw")
        meta = {"version": version, "dimension": self.dimension, "distance": self.distance, "m": self.params.m}
        meta["capacity"] = self._index.max_elements
        tmp_meta = folder / "index.json.tmp"
        tmp_meta.write_text(json.dumps(meta))
        os.replace(tmp_meta, folder / "index.json")

    @classmethod
    def load(cls, folder: pathlib.Path, dimension: int, distance: str, params: HnswParams, version: int) -> VectorIndex | None:
        """The saved index if it reflects ``version`` exactly, else ``None``."""
        try:
            meta = json.loads((folder / "index.json").read_text())
        except (OSError, ValueError):
            return None
        expected = {"version": version, "dimension": dimension, "distance": distance, "m": params.m}
        capacity = meta.pop("capacity", _MIN_CAPACITY)
        if meta != expected:
            log.info("index in %s is stale (%s != %s); rebuilding", folder, meta, expected)
            return None
        index = cls.__new__(cls)
        index.dimension, index.distance, index.params = dimension, distance, params
        index._index = hnswlib.Index(space=_SPACE[distance], dim=dimension)
        try:
            index._index.load_index(str(folder / "index.hnsw"), max_elements=max(capacity, _MIN_CAPACITY))
        except (RuntimeError, OSError) as exc:
            log.warning("cannot load index in %s (%s); rebuilding", folder, exc)
            return None
        index._index.set_ef(params.ef)
        index._matrix = np.zeros((0, dimension), dtype=np.float32)
        return index

    @staticmethod
    def discard(folder: pathlib.Path) -> None:
        """Forget any saved index (its version marker first, so a half-removed index is never trusted)."""
        for name in ("index.json", "index.hnsw"):
            try:
                (folder / name).unlink()
            except FileNotFoundError:
                pass
