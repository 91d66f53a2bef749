"""Vectron: a distributed vector database.

Embedded use::

    import vectron
    with vectron.open("./data") as store:
        col = store.create_collection("docs", dimension=384, distance="cosine")
        col.upsert([1, 2], vectors, payloads=[{"lang": "en"}, {"lang": "fr"}])
        hits = col.search(query, k=5, filter={"must": [{"key": "lang", "match": {"value": "en"}}]})

A running Vectron (``vectrond``)::

    client = vectron.Client("http://127.0.0.1:8080", api_key="vk_...")
    client.search("docs", query, top_k=5)

The public names are imported on first use (module ``__getattr__``), so
``import vectron`` or ``import vectron.raft`` loads no numpy, hnswlib, lmdb or httpx.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vectron import errors
    from vectron.client import Client
    from vectron.store import Collection, Record, ScoredPoint, Store, open

__all__ = ["Client", "Collection", "Record", "ScoredPoint", "Store", "errors", "open"]
__version__ = "0.1.0"

# public name -> the module that defines it (None: the name is that module)
_LAZY = {
    "Client": "vectron.client",
    "Collection": "vectron.store",
    "Record": "vectron.store",
    "ScoredPoint": "vectron.store",
    "Store": "vectron.store",
    "open": "vectron.store",
    "errors": None,
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'vectron' has no attribute {name!r}")
    module_name = _LAZY[name]
    value = importlib.import_module(f"vectron.{name}" if module_name is None else module_name)
    if module_name is not None:
        value = getattr(value, name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
