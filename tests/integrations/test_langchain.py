"""`VectronVectorStore` passes LangChain's standard vector-store suite (sync and async)
against a real `vectrond`, plus filters and the relevance scores."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import VectorStoreIntegrationTests

import vectron
from vectron import errors
from vectron.integrations.langchain import VectronVectorStore


class TestVectronStandard(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self, client: vectron.Client, collection_name: str) -> VectorStore:  # type: ignore[override]
        return VectronVectorStore(client, collection_name, self.get_embeddings())


@pytest.fixture
def store(client: vectron.Client, collection_name: str) -> VectronVectorStore:
    return VectronVectorStore(client, collection_name, VectorStoreIntegrationTests.get_embeddings())


def test_filters_scores_and_delete_all(store: VectronVectorStore) -> None:
    texts = ["apples", "pears", "plums", "cherries"]
    ids = store.add_texts(texts, metadatas=[{"kind": "pome", "n": 1}, {"kind": "pome", "n": 2}, {"kind": "drupe", "n": 3},
                                            {"kind": "drupe", "n": 4}])
    assert len(set(ids)) == 4
    assert {d.page_content for d in store.similarity_search("apples", k=4, filter={"kind": "drupe"})} == {"plums", "cherries"}
    vf = {"must": [{"key": "metadata.n", "range": {"gte": 2}}], "must_not": [{"key": "metadata.kind", "match": {"value": "drupe"}}]}
    assert [d.page_content for d in store.similarity_search("apples", k=4, filter=vf)] == ["pears"]
    scored = store.similarity_search_with_relevance_scores("apples", k=2)
    assert scored[0][0].page_content == "apples" and scored[0][1] == pytest.approx(1.0, abs=1e-4)
    assert all(0.0 <= score <= 1.0 for _, score in store.similarity_search_with_relevance_scores("apples", k=4))
    assert [d.page_content for d in store.get_by_ids([ids[2], "missing", ids[0]])] == ["plums", "apples"]
    with pytest.raises(errors.InvalidArgument):
        store.similarity_search("apples", filter={"must": [{"key": "metadata.n", "range": {"gte": "x"}}]})
    store.delete()
    assert store.similarity_search("apples", k=4) == []
    other = VectronVectorStore.from_texts(["x", "y"], store.embeddings, client=store.client, collection_name=store.collection_name,
                                          ids=["a", "b"])
    assert [d.id for d in other.similarity_search("y", k=1)] == ["b"]
    assert isinstance(other.similarity_search("y", k=1)[0], Document)
