"""The on-disk layout of a collection: LMDB sub-databases, their encodings, and env generations.

LMDB is the source of truth. Its sub-databases::

    meta      config (JSON), version (u64, +1 per write transaction), next_label (u64)
    ids       point id key -> label          labels    label -> point id key
    vectors   label -> float32 bytes         payloads  label -> JSON bytes
    free      labels of deleted points, re-used by later inserts
    user      caller metadata written with a batch (a Raft FSM keeps its applied index here)

(Point id keys and label keys are encoded by ``vectron.store.ids``.) The env
lives in ``lmdb-<generation>/``, named by the file ``CURRENT``; a restore
writes the next generation and switches ``CURRENT`` atomically.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import struct
from collections.abc import Iterator
from typing import Any

import lmdb
import numpy as np
import orjson

from vectron.errors import InvalidArgument
from vectron.store.ids import decode_label
from vectron.store.types import CollectionConfig

U64 = struct.Struct(">Q")
CURRENT = "CURRENT"  # names the LMDB folder in use: lmdb-<generation>
DBS = ("meta", "ids", "labels", "vectors", "payloads", "free", "user")
Dbs = dict[str, Any]  # sub-database name -> LMDB handle


def load_payload(data: bytes) -> dict[str, Any]:
    """Decode a stored payload (orjson: the hot path of every hit; json for integers beyond 64 bits)."""
    try:
        return orjson.loads(data)  # type: ignore[no-any-return]
    except orjson.JSONDecodeError:
        return json.loads(data)  # type: ignore[no-any-return]


def create(folder: pathlib.Path, config: CollectionConfig, map_size: int) -> None:
    """Initialise generation 0 of a new collection in the empty ``folder``."""
    folder.mkdir(parents=True)
    env = lmdb.open(str(folder / "lmdb-0"), max_dbs=len(DBS), map_size=map_size)
    try:
        with env.begin(write=True) as txn:
            meta = env.open_db(b"meta", txn=txn)
            for name in DBS[1:]:
                env.open_db(name.encode(), txn=txn)
            txn.put(b"config", json.dumps(config.to_json()).encode(), db=meta)
            txn.put(b"version", U64.pack(0), db=meta)
            txn.put(b"next_label", U64.pack(0), db=meta)
    finally:
        env.close()
    write_current(folder, "lmdb-0")


def exists(folder: pathlib.Path) -> bool:
    """Whether ``folder`` holds a collection."""
    return (folder / CURRENT).is_file()


def open_current(folder: pathlib.Path, *, durable: bool, map_size: int) -> tuple[pathlib.Path, lmdb.Environment, Dbs]:
    """Open the LMDB env that ``CURRENT`` names: (its folder, the env, its sub-databases)."""
    env_dir = folder / (folder / CURRENT).read_text().strip()
    env = lmdb.open(
        str(env_dir),
        max_dbs=len(DBS),
        map_size=map_size,
        sync=durable,
        metasync=durable,
        readahead=False,
        max_readers=1024,
        create=False,
    )
    return env_dir, env, {name: env.open_db(name.encode(), create=False) for name in DBS}


def remove_other_generations(folder: pathlib.Path, keep: pathlib.Path) -> None:
    """Remove env folders left by a restore that crashed before or after switching ``CURRENT``."""
    for leftover in folder.glob("lmdb-*"):
        if leftover != keep:
            shutil.rmtree(leftover, ignore_errors=True)


def next_generation(env_dir: pathlib.Path) -> str:
    """The folder name of the generation after ``env_dir``'s."""
    return f"lmdb-{int(env_dir.name.rsplit('-', 1)[1]) + 1}"


def read_u64(txn: lmdb.Transaction, dbs: Dbs, key: bytes) -> int:
    return U64.unpack(txn.get(key, db=dbs["meta"]))[0]  # type: ignore[no-any-return]


def bump_version(txn: lmdb.Transaction, dbs: Dbs) -> int:
    """Increment the state version in ``txn``; returns the new version."""
    version = read_u64(txn, dbs, b"version") + 1
    txn.put(b"version", U64.pack(version), db=dbs["meta"])
    return version


def read_config(txn: lmdb.Transaction, dbs: Dbs) -> CollectionConfig:
    return CollectionConfig.from_json(json.loads(txn.get(b"config", db=dbs["meta"])))


def write_config(txn: lmdb.Transaction, dbs: Dbs, config: CollectionConfig) -> None:
    txn.put(b"config", json.dumps(config.to_json()).encode(), db=dbs["meta"])


def stored_vectors(env: lmdb.Environment, dbs: Dbs, chunk: int = 10_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every stored (labels, vectors), ``chunk`` at a time."""
    with env.begin() as txn:
        labels: list[int] = []
        chunks: list[bytes] = []
        for key, value in txn.cursor(db=dbs["vectors"]):
            labels.append(decode_label(key))
            chunks.append(value)
            if len(labels) == chunk:
                yield np.array(labels), np.frombuffer(b"".join(chunks), np.float32).reshape(len(labels), -1)
                labels, chunks = [], []
        if labels:
            yield np.array(labels), np.frombuffer(b"".join(chunks), np.float32).reshape(len(labels), -1)


def write_current(folder: pathlib.Path, env_name: str) -> None:
    """Point ``CURRENT`` at ``env_name`` atomically and durably."""
    tmp = folder / (CURRENT + ".tmp")
    with open(tmp, "w") as fh:
        fh.write(env_name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / CURRENT)
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def snapshot_config(folder: pathlib.Path) -> CollectionConfig:
    """The config stored in the LMDB env in ``folder`` (a restored snapshot); InvalidArgument if it is none."""
    try:
        env = lmdb.open(str(folder), max_dbs=len(DBS), readonly=True, lock=False, create=False)
    except lmdb.Error as exc:
        raise InvalidArgument(f"not a collection snapshot: {exc}") from None
    try:
        with env.begin() as txn:
            meta = env.open_db(b"meta", txn=txn, create=False)
            return CollectionConfig.from_json(json.loads(txn.get(b"config", db=meta)))
    except (lmdb.Error, TypeError, ValueError, KeyError) as exc:
        raise InvalidArgument(f"not a collection snapshot: {exc}") from None
    finally:
        env.close()
