"""The LlamaIndex `VectronVectorStore` against a real `vectrond`: add, query with every
metadata filter operator (and/or/not, nested), doc and node ids, get/delete nodes, and a
`VectorStoreIndex` built and queried through it."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)

import vectron
from vectron import errors
from vectron.integrations.llamaindex import VectronVectorStore

DIM = 8


def embed(text: str) -> list[float]:
    """A deterministic embedding from the text's hash (the caller provides embeddings)."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).normal(size=DIM).tolist()


class HashEmbedding(BaseEmbedding):
    def _get_text_embedding(self, text: str) -> list[float]:
        return embed(text)

    def _get_query_embedding(self, query: str) -> list[float]:
        return embed(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return embed(query)


FRUIT = [  # text, metadata, source document
    ("apple", {"color": "red", "price": 3, "tags": ["sweet", "crisp"]}, "doc-a"),
    ("lemon", {"color": "yellow", "price": 2, "tags": ["sour"]}, "doc-a"),
    ("cherry", {"color": "red", "price": 8, "tags": ["sweet"]}, "doc-b"),
    ("banana", {"color": "yellow", "price": 1, "tags": []}, "doc-b"),
    ("kiwi", {"color": "green", "price": 4.5, "tags": ["sour", "sweet"]}, "doc-c"),
]


@pytest.fixture
def store(client: vectron.Client, collection_name: str) -> VectronVectorStore:
    return VectronVectorStore(client=client, collection_name=collection_name)


@pytest.fixture
def fruit(store: VectronVectorStore) -> VectronVectorStore:
    nodes = [TextNode(id_=f"n-{text}", text=text, metadata=meta, embedding=embed(text),
                      relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc)}) for text, meta, doc in FRUIT]
    assert store.add(nodes) == [f"n-{t}" for t, _, _ in FRUIT]
    return store


def found(store: VectronVectorStore, *filters: MetadataFilter | MetadataFilters, condition: str = "and", **query: object) -> set[str]:
    mf = MetadataFilters(filters=list(filters), condition=FilterCondition(condition)) if filters else None
    result = store.query(VectorStoreQuery(query_embedding=embed("apple"), similarity_top_k=10, filters=mf, **query))
    assert len(result.nodes) == len(result.ids) == len(result.similarities)
    return {n.get_content() for n in result.nodes}


def test_empty_store_and_nearest(store: VectronVectorStore) -> None:
    assert found(store) == set() and store.get_nodes() == []
    store.add([TextNode(id_=f"n-{t}", text=t, metadata=m, embedding=embed(t)) for t, m, _ in FRUIT])
    result = store.query(VectorStoreQuery(query_embedding=embed("cherry"), similarity_top_k=2))
    assert result.ids[0] == "n-cherry" and result.nodes[0].metadata == {"color": "red", "price": 8, "tags": ["sweet"]}
    assert result.similarities[0] == pytest.approx(1.0, abs=1e-4) and result.similarities[0] > result.similarities[1]


F = MetadataFilter
OP = FilterOperator


@pytest.mark.parametrize("filters,condition,expected", [
    ([F(key="color", value="red")], "and", {"apple", "cherry"}),
    ([F(key="color", value="red", operator=OP.NE)], "and", {"lemon", "banana", "kiwi"}),
    ([F(key="price", value=3, operator=OP.GT)], "and", {"cherry", "kiwi"}),
    ([F(key="price", value=3, operator=OP.GTE)], "and", {"apple", "cherry", "kiwi"}),
    ([F(key="price", value=2, operator=OP.LT)], "and", {"banana"}),
    ([F(key="price", value=2, operator=OP.LTE)], "and", {"lemon", "banana"}),
    ([F(key="price", value=4.5)], "and", {"kiwi"}),
    ([F(key="color", value=["green", "yellow"], operator=OP.IN)], "and", {"lemon", "banana", "kiwi"}),
    ([F(key="color", value=["green", "yellow"], operator=OP.NIN)], "and", {"apple", "cherry"}),
    ([F(key="tags", value=["sour"], operator=OP.ANY)], "and", {"lemon", "kiwi"}),
    ([F(key="tags", value=["sour", "sweet"], operator=OP.ALL)], "and", {"kiwi"}),
    ([F(key="tags", value="crisp", operator=OP.CONTAINS)], "and", {"apple"}),
    ([F(key="tags", value=None, operator=OP.IS_EMPTY)], "and", {"banana"}),
    ([F(key="color", value="red"), F(key="price", value=5, operator=OP.LT)], "and", {"apple"}),
    ([F(key="color", value="green"), F(key="price", value=1)], "or", {"kiwi", "banana"}),
    ([F(key="color", value="red"), F(key="color", value="yellow")], "not", {"kiwi"}),
    ([F(key="price", value=2, operator=OP.GTE),
      MetadataFilters(filters=[F(key="color", value="red"), F(key="color", value="green")], condition=FilterCondition.OR)],
     "and", {"apple", "cherry", "kiwi"}),
])
def test_metadata_filters_map_to_vectron_filters(fruit: VectronVectorStore, filters: list, condition: str, expected: set[str]) -> None:
    assert found(fruit, *filters, condition=condition) == expected


def test_unsupported_operator_is_a_clear_error(fruit: VectronVectorStore) -> None:
    with pytest.raises(errors.InvalidArgument, match="'text_match' on 'color' is not supported"):
        found(fruit, F(key="color", value="re", operator=OP.TEXT_MATCH))


def test_ids_get_and_delete(fruit: VectronVectorStore) -> None:
    assert found(fruit, doc_ids=["doc-b"]) == {"cherry", "banana"}
    assert found(fruit, F(key="color", value="red"), node_ids=["n-apple", "n-lemon"]) == {"apple"}
    got = fruit.get_nodes(node_ids=["n-kiwi", "n-nope"])
    assert [(n.node_id, n.get_content(), n.ref_doc_id) for n in got] == [("n-kiwi", "kiwi", "doc-c")]
    assert got[0].embedding == pytest.approx(embed("kiwi"), abs=1e-5)
    assert {n.get_content() for n in fruit.get_nodes(filters=MetadataFilters(filters=[F(key="price", value=4, operator=OP.GT)]))} == {"cherry", "kiwi"}
    fruit.delete("doc-a")
    assert found(fruit) == {"cherry", "banana", "kiwi"}
    fruit.delete_nodes(["n-cherry", "n-kiwi"], filters=MetadataFilters(filters=[F(key="color", value="red")]))
    assert found(fruit) == {"banana", "kiwi"}
    fruit.delete_nodes(["n-kiwi"])
    assert found(fruit) == {"banana"}
    fruit.clear()
    assert fruit.get_nodes() == []


async def test_a_vector_store_index_over_vectron(store: VectronVectorStore) -> None:
    docs = [Document(text=t, metadata={"color": m["color"]}, id_=f"doc-{t}", excluded_embed_metadata_keys=["color"]) for t, m, _ in FRUIT]
    index = VectorStoreIndex.from_documents(docs, storage_context=StorageContext.from_defaults(vector_store=store),
                                            embed_model=HashEmbedding())
    retriever = index.as_retriever(similarity_top_k=2, filters=MetadataFilters(filters=[F(key="color", value="yellow")]))
    hits = retriever.retrieve("lemon")
    assert [h.node.get_content() for h in hits][0] == "lemon" and {h.node.get_content() for h in hits} == {"lemon", "banana"}
    hits = await retriever.aretrieve("banana")
    assert hits[0].node.get_content() == "banana"
    index.delete_ref_doc("doc-lemon")
    assert {h.node.get_content() for h in retriever.retrieve("lemon")} == {"banana"}
