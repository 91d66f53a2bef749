"""Vector stores for application frameworks over :class:`vectron.Client`:
``vectron.integrations.langchain`` (extra ``langchain``) and
``vectron.integrations.llamaindex`` (extra ``llamaindex``). Embeddings come from the
caller (any LangChain ``Embeddings`` / any LlamaIndex embedding model).

What they share lives here: the collection is created on the first write (its
dimension is the first vector's), and a collection that does not exist yet
reads as empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vectron import errors
from vectron.client import Client

__all__ = ["ensure_collection", "upsert_in_batches"]

BATCH = 1000  # points per upsert request (the gateway takes up to 10,000)


def ensure_collection(client: Client, name: str, dimension: int, distance: str) -> None:
    """Create collection ``name`` unless it exists (a concurrent creator is fine)."""
    try:
        client.get_collection(name)
    except errors.CollectionNotFound:
        try:
            client.create_collection(name, dimension, distance)
        except errors.AlreadyExists:
            pass


def upsert_in_batches(client: Client, name: str, points: Sequence[dict[str, Any]], distance: str) -> None:
    """Upsert ``points`` (creating the collection from the first vector's dimension)."""
    if not points:
        return
    ensure_collection(client, name, len(points[0]["vector"]), distance)
    for lo in range(0, len(points), BATCH):
        client.upsert(name, points[lo:lo + BATCH])
