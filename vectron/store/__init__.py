"""The embeddable storage engine: LMDB for points, hnswlib for search.

It knows nothing of Raft or gRPC; a Raft FSM drives it through
``Collection.apply_batch(ops, meta)``, ``Collection.snapshot`` and
``Collection.restore``.
"""

from vectron.store.collection import Collection
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

__all__ = [
    "Collection",
    "CollectionConfig",
    "Delete",
    "DeletePayloadKeys",
    "OverwritePayload",
    "Record",
    "ScoredPoint",
    "SetPayload",
    "Store",
    "Upsert",
    "WriteOp",
    "open",
]
