"""Collection snapshots between two real clusters (two `vectrond --role all` processes):
a snapshot made on one restores on the other with another shard count, payloads intact;
a corrupted, truncated or foreign file is refused with 400 and creates nothing."""

from __future__ import annotations

import hashlib
import io
import json
import pathlib
import tarfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.services.gateway.procs import Daemon, single_node

N = 700  # more than two restore batches


def account(d: Daemon, email: str) -> httpx.Client:
    http = httpx.Client(base_url=d.url, timeout=120)
    assert http.post("/v1/users/register", json={"email": email, "password": "pass-word-1"}).status_code == 201
    token = http.post("/v1/users/login", json={"email": email, "password": "pass-word-1"}).json()["token"]
    key = http.post("/v1/keys", json={"name": "k"}, headers={"Authorization": f"Bearer {token}"}).json()["key"]
    http.headers["Authorization"] = f"Bearer {key}"
    return http


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    a = single_node(tmp_path_factory.mktemp("cluster-a"))
    b = single_node(tmp_path_factory.mktemp("cluster-b"))
    a.start()
    b.start()
    try:
        a.wait_ready()
        b.wait_ready()
        src, dst, other = account(a, "src@example.com"), account(b, "dst@example.com"), account(a, "other@example.com")
        assert src.put("/v1/collections/docs", json={"dimension": 3, "shards": 3, "distance": "dot",
                                                      "payload_indexes": [{"field": "i", "type": "integer"}]}).status_code == 201
        points = [
            {"id": i if i % 2 else f"doc-{i}", "vector": [1.0, i / N, -0.5], "payload": {"i": i, "tags": ["x", str(i % 7)], "nested": {"v": i * 0.5}}}
            for i in range(N)
        ]
        for start in range(0, N, 250):
            assert src.post("/v1/collections/docs/points", json={"points": points[start:start + 250]}).status_code == 200
        yield {"a": a, "b": b, "src": src, "dst": dst, "other": other, "points": points}
        for http in (src, dst, other):
            http.close()
    finally:
        a.stop()
        b.stop()


@pytest.fixture(scope="module")
def snapshot_file(clusters: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    src: httpx.Client = clusters["src"]
    r = src.post("/v1/collections/docs/snapshots")
    assert r.status_code == 201, r.text
    snap = r.json()["snapshot"]
    assert snap["points"] == N and snap["shards"] == 3 and snap["collection"] == "docs"
    listed = src.get("/v1/collections/docs/snapshots").json()["snapshots"]
    assert [s["name"] for s in listed] == [snap["name"]]
    path = tmp_path_factory.mktemp("download") / "docs.tar"
    digest = hashlib.sha256()
    with src.stream("GET", f"/v1/collections/docs/snapshots/{snap['name']}") as resp:
        assert resp.status_code == 200
        assert resp.headers["x-vectron-sha256"] == snap["sha256"]
        with open(path, "wb") as f:
            for chunk in resp.iter_bytes():
                digest.update(chunk)
                f.write(chunk)
    assert digest.hexdigest() == snap["sha256"] and path.stat().st_size == snap["size"]
    stored = clusters["a"].data_dir / "snapshots"
    files = [p for p in stored.rglob("*") if p.is_file()]
    assert files and all(p.stat().st_mode & 0o077 == 0 for p in files)  # private to the daemon's user
    return path


def restore(http: httpx.Client, name: str, body: bytes | Iterator[bytes], **params: Any) -> httpx.Response:
    return http.post(f"/v1/collections/{name}/snapshots/restore", content=body, params=params,
                     headers={"Content-Type": "application/octet-stream"})


def all_points(http: httpx.Client, name: str) -> dict[Any, dict[str, Any]]:
    out: dict[Any, dict[str, Any]] = {}
    offset = None
    while True:
        body: dict[str, Any] = {"limit": 500, "with_vector": True, **({"offset": offset} if offset is not None else {})}
        page = http.post(f"/v1/collections/{name}/points/scroll", json=body).json()
        out.update({p["id"]: p for p in page["points"]})
        offset = page.get("next_offset")
        if offset is None:
            return out


def test_round_trip_onto_another_cluster_with_another_shard_count(clusters: dict[str, Any], snapshot_file: pathlib.Path) -> None:
    dst: httpx.Client = clusters["dst"]

    def chunks() -> Iterator[bytes]:  # a streamed upload (no Content-Length)
        with open(snapshot_file, "rb") as f:
            while data := f.read(64 << 10):
                yield data

    r = restore(dst, "restored", chunks(), shards=2)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["restored_points"] == N and body["source_collection"] == "docs"
    assert body["collection"]["shards"] == 2 and body["collection"]["distance"] == "dot" and body["collection"]["dimension"] == 3
    got = all_points(dst, "restored")
    want = {p["id"]: p for p in clusters["points"]}
    assert set(got) == set(want)
    for pid, p in want.items():
        assert got[pid]["payload"] == p["payload"]
        assert got[pid]["vector"] == pytest.approx(p["vector"], rel=1e-6)
    info = dst.get("/v1/collections/restored").json()["collection"]
    assert info["points_count"] == N and info["shards"] == 2
    declared = [(i["field"], i["type"]) for i in info["payload_indexes"] if not i["automatic"]]
    assert declared == [("i", "integer")]  # the payload index came along
    hits = dst.post("/v1/collections/restored/points/search",
                    json={"vector": [1.0, 1.0, 0.0], "top_k": 1, "filter": {"must": [{"key": "i", "match": {"value": 5}}]}}).json()
    assert [h["id"] for h in hits["results"]] == [5]
    # restoring onto an existing name changes nothing
    again = restore(dst, "restored", snapshot_file.read_bytes())
    assert again.status_code == 409
    assert dst.post("/v1/collections/restored/points/count", json={}).json() == {"count": N}


def corrupted(data: bytes) -> bytes:
    """Flip one byte inside the last shard member's contents."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        last = tar.getmembers()[-1]
    pos = last.offset_data + last.size // 2
    return data[:pos] + bytes([data[pos] ^ 0xFF]) + data[pos + 1:]


def with_manifest(data: bytes, change: Any) -> bytes:
    src = tarfile.open(fileobj=io.BytesIO(data))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for member in src.getmembers():
            content = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "manifest.json":
                manifest = json.loads(content)
                change(manifest)
                content = json.dumps(manifest).encode()
                member.size = len(content)
            tar.addfile(member, io.BytesIO(content))
    return out.getvalue()


@pytest.mark.parametrize(
    "case, expect",
    [
        ("flipped byte", "SHA-256"),
        ("truncated", "truncated"),
        ("cut in the manifest", "truncated"),
        ("not a tar", "not a readable tar"),
        ("manifest lies about points", "does not match the manifest"),
        ("manifest lists a missing shard", "missing shard"),
    ],
)
def test_a_bad_file_is_refused_and_creates_nothing(clusters: dict[str, Any], snapshot_file: pathlib.Path, case: str, expect: str) -> None:
    dst: httpx.Client = clusters["dst"]
    data = snapshot_file.read_bytes()
    bad = {
        "flipped byte": lambda: corrupted(data),
        "truncated": lambda: data[: len(data) * 2 // 3],
        "cut in the manifest": lambda: data[:700],
        "not a tar": lambda: b"hello, this is not a snapshot" * 100,
        "manifest lies about points": lambda: with_manifest(data, lambda mf: mf["shards"][0].update(points=mf["shards"][0]["points"] + 1)),
        "manifest lists a missing shard": lambda: with_manifest(
            data, lambda mf: mf["shards"].append({**mf["shards"][-1], "shard_id": 3, "file": "shard-3.mdb"})
        ),
    }[case]()
    r = restore(dst, "broken", bad)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_argument" and error["field"] == "body" and expect in error["message"]
    assert dst.get("/v1/collections/broken").status_code == 404
    assert "broken" not in [c["name"] for c in dst.get("/v1/collections").json()["collections"]]


def test_only_the_owner_sees_a_snapshot(clusters: dict[str, Any], snapshot_file: pathlib.Path) -> None:
    src, other = clusters["src"], clusters["other"]
    name = src.get("/v1/collections/docs/snapshots").json()["snapshots"][0]["name"]
    assert other.get(f"/v1/collections/docs/snapshots/{name}").status_code == 404
    assert other.get("/v1/collections/docs/snapshots").json() == {"snapshots": []}
    assert httpx.get(f"{clusters['a'].url}/v1/collections/docs/snapshots/{name}").status_code == 401
    unauth = httpx.post(f"{clusters['b'].url}/v1/collections/x/snapshots/restore", content=b"x" * 100)
    assert unauth.status_code == 401
    assert src.get("/v1/collections/docs/snapshots/..%2F..%2Fetc").status_code == 404
    assert src.post("/v1/collections/nope/snapshots").status_code == 404


def test_empty_upload_and_delete(clusters: dict[str, Any], snapshot_file: pathlib.Path) -> None:
    src: httpx.Client = clusters["src"]
    r = restore(src, "empty", b"")
    assert r.status_code == 400 and r.json()["error"]["field"] == "body"
    made = src.post("/v1/collections/docs/snapshots").json()["snapshot"]["name"]
    assert src.delete(f"/v1/collections/docs/snapshots/{made}").status_code == 200
    assert made not in [s["name"] for s in src.get("/v1/collections/docs/snapshots").json()["snapshots"]]
    assert src.delete(f"/v1/collections/docs/snapshots/{made}").status_code == 404


def test_cli_and_client_round_trip(clusters: dict[str, Any], tmp_path: pathlib.Path) -> None:
    from click.testing import CliRunner

    from vectron.cli import main

    key_a = clusters["src"].headers["Authorization"].split()[1]
    key_b = clusters["dst"].headers["Authorization"].split()[1]
    a, b = clusters["a"].url, clusters["b"].url
    run = CliRunner().invoke
    made = run(main, ["--url", a, "--api-key", key_a, "-o", "json", "snapshot", "create", "docs"])
    assert made.exit_code == 0, made.output
    name = json.loads(made.output)["name"]
    listed = run(main, ["snapshot", "list", "docs", "--url", a, "--api-key", key_a])
    assert listed.exit_code == 0 and name in listed.output and "SHA256" in listed.output
    out = tmp_path / "cli.tar"
    got = run(main, ["--url", a, "--api-key", key_a, "snapshot", "download", "docs", name, "-f", str(out)])
    assert got.exit_code == 0 and out.stat().st_size > 0, got.output
    done = run(main, ["--url", b, "--api-key", key_b, "snapshot", "restore", "from-cli", str(out), "--shards", "1"])
    assert done.exit_code == 0, done.output
    assert f"restored {N} points of docs into from-cli (1 shards)" in done.output
    bad = tmp_path / "bad.tar"
    bad.write_bytes(out.read_bytes()[:5000])
    refused = run(main, ["--url", b, "--api-key", key_b, "snapshot", "restore", "from-bad", str(bad)])
    assert refused.exit_code != 0 and "corrupt or truncated" in refused.output
    missing = run(main, ["--url", a, "--api-key", key_a, "snapshot", "download", "docs", "no-such", "-f", str(tmp_path / "x")])
    assert missing.exit_code != 0 and "not found" in missing.output
