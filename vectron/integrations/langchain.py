"""A LangChain ``VectorStore`` over a Vectron collection (``pip install 'vectron[langchain]'``).

::

    from vectron import Client
    from vectron.integrations.langchain import VectronVectorStore

    store = VectronVectorStore(Client(url, api_key=key), "docs", embedding=my_embeddings)
    store.add_texts(["Vectron stores vectors"], metadatas=[{"lang": "en"}])
    store.similarity_search("what stores vectors?", k=4, filter={"lang": "en"})

Each document is one point: its id is the document id (a string; a new UUID when
none is given), its payload ``{"page_content": ..., "metadata": {...}}``. ``filter``
is either ``{metadata_key: value, ...}`` (every key must equal its value) or a
Vectron filter (``{"must": [...], ...}``) whose keys are payload paths such as
``metadata.lang``. The async methods are LangChain's defaults (the sync ones in an
executor).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from vectron import errors
from vectron.client import Client
from vectron.integrations import upsert_in_batches

__all__ = ["VectronVectorStore", "to_vectron_filter"]

CONTENT, METADATA = "page_content", "metadata"


def to_vectron_filter(flt: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A Vectron filter from ``{metadata_key: value}`` (all must match) or a Vectron filter as is."""
    if not flt:
        return None
    if set(flt) <= {"must", "should", "must_not"}:
        return dict(flt)
    return {"must": [{"key": f"{METADATA}.{k}", "match": {"value": v}} for k, v in flt.items()]}


def _document(point_id: Any, payload: Mapping[str, Any] | None) -> Document:
    payload = payload or {}
    return Document(page_content=payload.get(CONTENT, ""), metadata=dict(payload.get(METADATA) or {}), id=str(point_id))


class VectronVectorStore(VectorStore):
    """Documents in Vectron collection ``collection_name`` (created on the first write)."""

    def __init__(self, client: Client, collection_name: str, embedding: Embeddings, *, distance: str = "cosine") -> None:
        self.client = client
        self.collection_name = collection_name
        self._embedding = embedding
        self.distance = distance

    @property
    def embeddings(self) -> Embeddings:
        return self._embedding

    def add_texts(self, texts: Iterable[str], metadatas: list[dict] | None = None, *, ids: list[str] | None = None,
                  **kwargs: Any) -> list[str]:
        texts = list(texts)
        if metadatas is not None and len(metadatas) != len(texts):
            raise ValueError(f"{len(metadatas)} metadatas for {len(texts)} texts")
        if ids is not None and len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids for {len(texts)} texts")
        out = [str(i) if i else str(uuid.uuid4()) for i in (ids or [None] * len(texts))]
        vectors = self._embedding.embed_documents(texts)
        points = [{"id": pid, "vector": vec, "payload": {CONTENT: text, METADATA: dict((metadatas or [{}] * len(texts))[n] or {})}}
                  for n, (pid, vec, text) in enumerate(zip(out, vectors, texts))]
        upsert_in_batches(self.client, self.collection_name, points, self.distance)
        return out

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete by id (missing ids are no error); ``ids=None`` deletes every document."""
        try:
            if ids is None:
                self.client.delete(self.collection_name, filter={"must": []})
            elif ids:
                self.client.delete(self.collection_name, [str(i) for i in ids])
        except errors.CollectionNotFound:
            pass
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The documents with these ids that exist, in the order of ``ids``."""
        if not ids:
            return []
        try:
            got = {str(p.id): p for p in self.client.get(self.collection_name, [str(i) for i in ids])}
        except errors.CollectionNotFound:
            return []
        return [_document(got[str(i)].id, got[str(i)].payload) for i in dict.fromkeys(ids) if str(i) in got]

    def similarity_search_with_score_by_vector(self, embedding: list[float], k: int = 4, filter: Mapping[str, Any] | None = None,
                                               **kwargs: Any) -> list[tuple[Document, float]]:
        """The ``k`` nearest documents with Vectron's score (higher is more similar)."""
        try:
            hits = self.client.search(self.collection_name, embedding, top_k=k, filter=to_vectron_filter(filter),
                                      score_threshold=kwargs.get("score_threshold"))
        except errors.CollectionNotFound:
            return []
        return [(_document(h.id, h.payload), h.score) for h in hits]

    def similarity_search_by_vector(self, embedding: list[float], k: int = 4, filter: Mapping[str, Any] | None = None,
                                    **kwargs: Any) -> list[Document]:
        return [d for d, _ in self.similarity_search_with_score_by_vector(embedding, k, filter, **kwargs)]

    def similarity_search_with_score(self, query: str, k: int = 4, filter: Mapping[str, Any] | None = None,
                                     **kwargs: Any) -> list[tuple[Document, float]]:
        return self.similarity_search_with_score_by_vector(self._embedding.embed_query(query), k, filter, **kwargs)

    def similarity_search(self, query: str, k: int = 4, filter: Mapping[str, Any] | None = None, **kwargs: Any) -> list[Document]:
        return [d for d, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    def _select_relevance_score_fn(self) -> Any:
        """Relevance from Vectron's score: cosine similarity s in [-1, 1] -> (1 + s) / 2; euclid is a
        distance (LangChain's own function); dot products are left as they are."""
        if self.distance == "euclid":
            return self._euclidean_relevance_score_fn
        if self.distance == "cosine":
            return lambda score: (1.0 + score) / 2.0
        return lambda score: score

    @classmethod
    def from_texts(cls, texts: list[str], embedding: Embeddings, metadatas: list[dict] | None = None, *,
                   ids: list[str] | None = None, client: Client | None = None, collection_name: str = "langchain",
                   distance: str = "cosine", **kwargs: Any) -> VectronVectorStore:
        """A store over ``client`` holding ``texts`` (``client`` is required)."""
        if client is None:
            raise ValueError("from_texts needs client=vectron.Client(url, api_key=...)")
        store = cls(client, collection_name, embedding, distance=distance)
        store.add_texts(texts, metadatas, ids=ids)
        return store
