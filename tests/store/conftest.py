import pathlib
from collections.abc import Iterator

import numpy as np
import pytest

import vectron
from vectron.store import Collection, Store


@pytest.fixture
def store(tmp_path: pathlib.Path) -> Iterator[Store]:
    with vectron.open(tmp_path / "data") as s:
        yield s


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def docs(store: Store, rng: np.random.Generator) -> Collection:
    """200 points of dimension 8 with payloads {"n": i, "tag": even|odd, "group": i % 10}."""
    col = store.create_collection("docs", dimension=8, distance="cosine")
    vectors = rng.normal(size=(200, 8)).astype(np.float32)
    payloads = [{"n": i, "tag": "even" if i % 2 == 0 else "odd", "group": i % 10} for i in range(200)]
    col.upsert(list(range(200)), vectors, payloads)
    col.test_vectors = vectors  # type: ignore[attr-defined]
    return col
