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
"""

from vectron import errors
from vectron.client import Client
from vectron.store import Collection, Record, ScoredPoint, Store, open

__all__ = ["Client", "Collection", "Record", "ScoredPoint", "Store", "errors", "open"]
__version__ = "0.1.0"
