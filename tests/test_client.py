"""vectron.Client against an in-process gateway stack (real HTTP); the CLI is tested in tests/test_cli.py."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

import vectron
from tests.services.gateway.conftest import Stack, build_stack, stop_stack
from vectron import errors
from vectron.client import Point


@pytest.fixture
def stack(tmp_path: pathlib.Path) -> Iterator[Stack]:
    s = build_stack(tmp_path)
    yield s
    stop_stack(s)


def test_client_flows(stack: Stack) -> None:
    admin = vectron.Client(stack.url)
    user = admin.register("c@example.com", "correct horse battery")
    session = admin.login("c@example.com", "correct horse battery")
    assert session.user == user and admin.profile() == user
    created = admin.create_key("sdk")
    assert [k.id for k in admin.list_keys()] == [created.api_key.id]
    db = vectron.Client(stack.url, api_key=created.key)
    col = db.create_collection("docs", 3, "cosine", shards=3)
    assert (col.name, col.dimension, col.shards) == ("docs", 3, 3)
    n = db.upsert("docs", [Point(i, [1.0, float(i), 0.0], {"i": i}) for i in range(20)] + [{"id": "x", "vector": [0, 0, 1], "payload": {"x": 1}}])
    assert n == 21
    assert db.retrieve("docs", 4) == Point(4, pytest.approx([1.0, 4.0, 0.0]), {"i": 4})
    assert db.retrieve("docs", 999) is None
    hits = db.search("docs", [1.0, 10.0, 0.0], top_k=2)
    assert hits[0].id == 10 and hits[0].payload == {"i": 10}
    assert [h[0].id for h in db.search_batch("docs", [[0, 0, 1], [1, 19, 0]], top_k=1)] == ["x", 19]
    assert db.count("docs") == 21 and db.count("docs", {"must": [{"key": "i", "range": {"gte": 10}}]}) == 10
    page, nxt = db.scroll("docs", limit=5)
    assert [p.id for p in page] == [0, 1, 2, 3, 4] and nxt == 5
    assert db.set_payload("docs", [1], {"seen": True}) == 1
    assert db.delete("docs", [1, 2]) == 2
    assert db.get_collection("docs").points_count == 19
    with pytest.raises(errors.DimensionMismatch):
        db.upsert("docs", [Point(1, [1.0, 2.0])])
    with pytest.raises(errors.CollectionNotFound):
        db.search("nope", [1, 2, 3])
    for bad in ("../etc", "a/b", "docs?x=1", "", "x y"):  # refused before sending: a path cannot carry them
        with pytest.raises(errors.InvalidArgument, match="collection name .* is invalid") as bad_name:
            db.get_collection(bad)
        assert bad_name.value.field == "name"
    with pytest.raises(errors.InvalidArgument, match="is invalid"):
        db.upsert("../docs", [Point(1, [1.0, 2.0, 3.0])])
    with pytest.raises(errors.NotFound):
        admin.revoke_key("../../v1/keys")  # escaped: an unknown key id, not another route
    with pytest.raises(errors.Unauthenticated):
        vectron.Client(stack.url, api_key=session.token).list_collections()
    for w in stack.workers:
        w.down.add(0)
    with pytest.raises(errors.PartialWrite) as e:
        vectron.Client(stack.url, api_key=created.key, retries=0).upsert("docs", [Point(i, [1.0, 1.0, float(i)]) for i in range(30)])
    assert e.value.written and e.value.failed
    for w in stack.workers:
        w.down.clear()
    db.drop_collection("docs")
    assert db.list_collections() == []
    admin.revoke_key(created.api_key.id)
    with pytest.raises(errors.Unauthenticated):
        db.list_collections()
