"""A LlamaIndex vector store over a Vectron collection (``pip install 'vectron[llamaindex]'``).

::

    from llama_index.core import StorageContext, VectorStoreIndex
    from vectron import Client
    from vectron.integrations.llamaindex import VectronVectorStore

    store = VectronVectorStore(client=Client(url, api_key=key), collection_name="docs")
    index = VectorStoreIndex.from_documents(docs, storage_context=StorageContext.from_defaults(vector_store=store),
                                            embed_model=my_embed_model)

Each node is one point: its id is the node id, its payload LlamaIndex's own
``node_to_metadata_dict`` (the node's metadata keys at the top level, the node
itself under ``_node_content``), so ``MetadataFilters`` map onto Vectron filters
key for key (:func:`to_vectron_filter`). The async methods are LlamaIndex's
defaults (they call the sync ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from vectron import errors
from vectron.client import Client
from vectron.integrations import upsert_in_batches

__all__ = ["VectronVectorStore", "to_vectron_filter"]

PAGE = 1000


def _condition(f: MetadataFilter) -> dict[str, Any]:
    """One LlamaIndex filter as a Vectron condition (or nested filter)."""
    key, op, value = f.key, f.operator, f.value
    values = value if isinstance(value, list) else [value]
    match = lambda v: {"key": key, "match": {"value": v}}  # noqa: E731
    if op == FilterOperator.EQ:
        return match(value) if not isinstance(value, float) else {"key": key, "range": {"gte": value, "lte": value}}
    if op == FilterOperator.NE:
        return {"must_not": [_condition(MetadataFilter(key=key, value=value, operator=FilterOperator.EQ))]}
    ranges = {FilterOperator.GT: "gt", FilterOperator.GTE: "gte", FilterOperator.LT: "lt", FilterOperator.LTE: "lte"}
    if op in ranges:
        return {"key": key, "range": {ranges[op]: value}}
    if op in (FilterOperator.IN, FilterOperator.ANY):  # lists are flattened: "any element equals any value"
        return {"key": key, "match": {"any": values}}
    if op == FilterOperator.NIN:
        return {"must_not": [{"key": key, "match": {"any": values}}]}
    if op == FilterOperator.ALL:
        return {"must": [match(v) for v in values]}
    if op == FilterOperator.CONTAINS:
        return match(value)
    if op == FilterOperator.IS_EMPTY:
        return {"is_empty": {"key": key}}
    raise errors.InvalidArgument(f"filter operator {op.value!r} on {key!r} is not supported by Vectron", field="filters")


def to_vectron_filter(filters: MetadataFilters | None) -> dict[str, Any] | None:
    """``MetadataFilters`` (nested, with and/or/not) as a Vectron filter."""
    if filters is None or not filters.filters:
        return None
    parts = [to_vectron_filter(f) if isinstance(f, MetadataFilters) else _condition(f) for f in filters.filters]
    clause = {FilterCondition.AND: "must", FilterCondition.OR: "should", FilterCondition.NOT: "must_not"}[
        filters.condition or FilterCondition.AND]
    return {clause: [p for p in parts if p is not None]}


class VectronVectorStore(BasePydanticVectorStore):
    """Nodes in Vectron collection ``collection_name`` (created on the first add)."""

    stores_text: bool = True
    flat_metadata: bool = False
    collection_name: str
    distance: str = "cosine"
    _client: Client = PrivateAttr()

    def __init__(self, client: Client, collection_name: str, distance: str = "cosine", **kwargs: Any) -> None:
        super().__init__(collection_name=collection_name, distance=distance, **kwargs)
        self._client = client

    @classmethod
    def class_name(cls) -> str:
        return "VectronVectorStore"

    @property
    def client(self) -> Client:
        return self._client

    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        points = [{"id": n.node_id, "vector": n.get_embedding(),
                   "payload": node_to_metadata_dict(n, remove_text=False, flat_metadata=self.flat_metadata)} for n in nodes]
        upsert_in_batches(self._client, self.collection_name, points, self.distance)
        return [n.node_id for n in nodes]

    def _delete(self, ids: list[str] | None = None, flt: dict[str, Any] | None = None) -> None:
        try:
            self._client.delete(self.collection_name, ids, filter=flt)
        except errors.CollectionNotFound:
            pass

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of the source document ``ref_doc_id``."""
        self._delete(flt={"must": [{"key": "ref_doc_id", "match": {"value": ref_doc_id}}]})

    def delete_nodes(self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **delete_kwargs: Any) -> None:
        """Delete the nodes with these ids and/or matching ``filters``."""
        flt = to_vectron_filter(filters)
        if node_ids is not None:
            flt = {"must": [{"has_id": list(node_ids)}, *([flt] if flt else [])]}
        self._delete(flt=flt or {"must": []})

    def clear(self) -> None:
        self._delete(flt={"must": []})

    def get_nodes(self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None) -> list[BaseNode]:
        """The nodes with these ids and/or matching ``filters`` (every node when neither is given)."""
        flt = to_vectron_filter(filters)
        if node_ids is not None:
            flt = {"must": [{"has_id": list(node_ids)}, *([flt] if flt else [])]}
        out: list[BaseNode] = []
        offset: Any = None
        try:
            while True:
                page, offset = self._client.scroll(self.collection_name, limit=PAGE, offset=offset, filter=flt, with_vector=True)
                for p in page:
                    node = metadata_dict_to_node(p.payload or {})
                    node.embedding = p.vector
                    out.append(node)
                if offset is None:
                    return out
        except errors.CollectionNotFound:
            return out

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The ``similarity_top_k`` nearest nodes (within ``filters``, ``node_ids`` and ``doc_ids``)."""
        if query.query_embedding is None:
            raise errors.InvalidArgument("a Vectron query needs query_embedding", field="query_embedding")
        flt = to_vectron_filter(query.filters)
        extra = []
        if query.node_ids:
            extra.append({"has_id": list(query.node_ids)})
        if query.doc_ids:
            extra.append({"key": "ref_doc_id", "match": {"any": list(query.doc_ids)}})
        if extra:
            flt = {"must": [*extra, *([flt] if flt else [])]}
        try:
            hits = self._client.search(self.collection_name, query.query_embedding, top_k=query.similarity_top_k, filter=flt)
        except errors.CollectionNotFound:
            hits = []
        nodes = [metadata_dict_to_node(h.payload or {}) for h in hits]
        return VectorStoreQueryResult(nodes=nodes, similarities=[h.score for h in hits], ids=[str(h.id) for h in hits])
