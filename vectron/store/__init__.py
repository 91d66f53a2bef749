"""The embeddable storage engine: LMDB for points, hnswlib for search.

It knows nothing of Raft or gRPC; a Raft FSM drives it through
``Collection.apply_batch(ops, meta)``, ``Collection.snapshot`` and
``Collection.restore``. This package's names are its public API: the services
import nothing from its modules directly (an import-linter contract).
"""

from vectron.store.collection import Collection
from vectron.store.filters import compile_filter
from vectron.store.ids import PointId, check_ids
from vectron.store.payload_index import IndexInfo, check_index_field, check_index_type
from vectron.store.shard_file import SnapshotPoint, SnapshotReader
from vectron.store.store import Store, open
from vectron.store.types import (
    CollectionConfig,
    Delete,
    DeletePayloadKeys,
    OverwritePayload,
    Record,
    ScoredPoint,
    SetPayload,
    Upsert,
    WriteOp,
)
from vectron.store.validation import check_hnsw
from vectron.store.vector_index import HnswParams

__all__ = [
    "Collection",
    "CollectionConfig",
    "Delete",
    "DeletePayloadKeys",
    "HnswParams",
    "IndexInfo",
    "OverwritePayload",
    "PointId",
    "Record",
    "ScoredPoint",
    "SetPayload",
    "SnapshotPoint",
    "SnapshotReader",
    "Store",
    "Upsert",
    "WriteOp",
    "check_hnsw",
    "check_ids",
    "check_index_field",
    "check_index_type",
    "compile_filter",
    "open",
]
