"""vectron.Client and the `vectron` CLI against an in-process gateway stack (real HTTP)."""

from __future__ import annotations

import json
import os
import pathlib
import stat
from collections.abc import Iterator

import numpy as np
import pytest
from click.testing import CliRunner

import vectron
from vectron import errors
from vectron.cli import main
from vectron.client import Point

from tests.services.gateway.conftest import Stack, build_stack, stop_stack


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


def test_cli_flows(stack: Stack, tmp_path: pathlib.Path) -> None:
    runner = CliRunner()
    env = {"VECTRON_URL": stack.url, "VECTRON_CONFIG_DIR": str(tmp_path / "cfg")}

    def run(*args: str, input: str | None = None) -> str:
        result = runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("register", "cli@example.com", "--password", "correct horse battery")
    run("login", "cli@example.com", "--password", "correct horse battery")
    cfg = tmp_path / "cfg" / "credentials.json"
    assert stat.S_IMODE(os.stat(cfg).st_mode) == 0o600
    key = run("keys", "create", "cli", "--save").splitlines()[0]
    assert key.startswith("vk_") and json.loads(cfg.read_text())[stack.url]["api_key"] == key
    assert "cli\tunlimited" in run("keys", "list")
    run("collections", "create", "docs", "--dimension", "4", "--shards", "2")
    assert run("collections", "list").startswith("docs\t4-d cosine")
    rng = np.random.default_rng(1)
    data = tmp_path / "points.jsonl"
    vecs = rng.normal(size=(50, 4))
    data.write_text("".join(json.dumps({"id": i, "vector": vecs[i].tolist(), "payload": {"i": i}}) + "\n" for i in range(50)))
    # a failing run (a shard down) stops with a clear message and keeps its progress ...
    for w in stack.workers:
        w.down.add(1)
    result = runner.invoke(main, ["points", "upsert", "docs", str(data), "--batch-size", "10"], env={**env})
    assert result.exit_code == 1 and "Traceback" not in result.output and "Error:" in result.output
    for w in stack.workers:
        w.down.clear()
    # ... and the next run resumes
    out = run("points", "upsert", "docs", str(data), "--batch-size", "10")
    assert "upserted" in out
    assert json.loads(run("collections", "info", "docs"))["points_count"] == 50
    got = [json.loads(line) for line in run("points", "get", "docs", "3", "7").splitlines()]
    assert got == [{"id": 3, "payload": {"i": 3}}, {"id": 7, "payload": {"i": 7}}]
    hits = [json.loads(line) for line in run("search", "docs", json.dumps(vecs[9].tolist()), "-k", "2").splitlines()]
    assert hits[0]["id"] == 9 and hits[0]["payload"] == {"i": 9}
    # .npy input with a payload file
    np.save(tmp_path / "v.npy", rng.normal(size=(7, 4)).astype(np.float32))
    (tmp_path / "p.jsonl").write_text("".join(json.dumps({"n": i}) + "\n" for i in range(7)))
    run("points", "upsert", "docs", str(tmp_path / "v.npy"), "--payloads", str(tmp_path / "p.jsonl"), "--id-offset", "1000")
    assert json.loads(run("points", "get", "docs", "1006"))["payload"] == {"n": 6}
    # errors: one line, no traceback
    result = runner.invoke(main, ["search", "nope", "[1,2,3,4]"], env=env)
    assert result.exit_code == 1 and "collection_not_found" in result.output and "Traceback" not in result.output
    result = runner.invoke(main, ["search", "docs", "[1,2]"], env=env)
    assert result.exit_code == 1 and "dimension_mismatch" in result.output
    run("collections", "drop", "docs", "--yes")
