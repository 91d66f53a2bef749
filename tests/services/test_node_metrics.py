"""/metrics of a real `vectrond --role all`: per collection, per Raft group replica, per
worker and process series exist, move after a write, and carry no `_created` duplicates."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.services.gateway.procs import single_node

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(http: httpx.Client) -> Samples:
    r = http.get("/metrics")
    assert r.status_code == 200
    out: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def pick(samples: Samples, name: str, **labels: str) -> list[float]:
    return [v for (n, ls), v in samples.items() if n == name and all((k, val) in ls for k, val in labels.items())]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    d = single_node(tmp_path_factory.mktemp("metrics"))
    d.start()
    try:
        d.wait_ready()
        http = httpx.Client(base_url=d.url, timeout=30)
        http.post("/v1/users/register", json={"email": "m@example.com", "password": "pass-word-1"})
        token = http.post("/v1/users/login", json={"email": "m@example.com", "password": "pass-word-1"}).json()["token"]
        key = http.post("/v1/keys", json={"name": "m"}, headers={"Authorization": f"Bearer {token}"}).json()["key"]
        http.headers["Authorization"] = f"Bearer {key}"
        assert http.put("/v1/collections/watched", json={"dimension": 2, "shards": 2}).status_code == 201
        yield {"http": http}
        http.close()
    finally:
        d.stop()


def test_series_exist_and_move_after_a_write(node: dict[str, Any]) -> None:
    http: httpx.Client = node["http"]
    # the shards open on the worker's next heartbeat; a count answers once both have leaders
    assert http.post("/v1/collections/watched/points/count", json={}).json() == {"count": 0}
    before = scrape(http)
    for group in ("auth", "placement", "shard"):
        assert pick(before, "vectron_raft_role", group=group, role="leader"), group
        assert pick(before, "vectron_raft_term", group=group)
        assert pick(before, "vectron_raft_elections_total", group=group)
        assert pick(before, "vectron_raft_snapshot_installs_total", group=group)
        assert pick(before, "vectron_raft_apply_lag_entries", group=group)
        assert pick(before, "vectron_raft_follower_lag_entries", group=group)
    assert len(pick(before, "vectron_collection_points", collection="watched")) == 2  # one per shard
    assert pick(before, "vectron_worker_replicas")[0] >= 2
    assert pick(before, "vectron_worker_disk_bytes")[0] > 0
    assert pick(before, "process_resident_memory_bytes")[0] > 0
    assert not [n for n, _ in before if n.endswith("_created")]

    points = [{"id": i, "vector": [1.0, float(i)], "payload": {"i": i}} for i in range(10)]
    assert http.post("/v1/collections/watched/points", json={"points": points}).status_code == 200
    after = scrape(http)
    assert sum(pick(after, "vectron_collection_points", collection="watched")) == 10
    applied = lambda s: sum(pick(s, "vectron_raft_applied_index", group="shard", collection="watched"))  # noqa: E731
    assert applied(after) > applied(before)
    requests = pick(after, "vectron_collection_requests_total", collection="watched", operation="upsert", status="200")
    assert requests == [1.0]
    assert pick(after, "vectron_collection_request_seconds_count", collection="watched", operation="upsert") == [1.0]


def test_docs_and_static_files_are_not_unmatched(node: dict[str, Any]) -> None:
    http: httpx.Client = node["http"]
    before = sum(pick(scrape(http), "vectron_gateway_requests_total", operation="unmatched"))
    assert http.get("/docs").status_code == 200
    assert http.get("/openapi.json").status_code == 200
    static = http.get("/dashboard/static/does-not-exist.js")
    assert static.status_code == 404
    after = scrape(http)
    assert sum(pick(after, "vectron_gateway_requests_total", operation="unmatched")) == before
    assert pick(after, "vectron_gateway_requests_total", operation="swagger_ui", status="200") == [1.0]
    assert pick(after, "vectron_gateway_requests_total", operation="openapi", status="200") == [1.0]
    assert pick(after, "vectron_gateway_requests_total", operation="dashboard_static", status="404") == [1.0]
    # a request that fails makes no per-collection series (its name could be anything)
    assert http.post("/v1/collections/made-up-name/points/count", json={}).status_code == 404
    assert not pick(scrape(http), "vectron_collection_requests_total", collection="made-up-name")
    # a path no route has is still unmatched
    assert http.get("/no/such/path").status_code == 404
    assert sum(pick(scrape(http), "vectron_gateway_requests_total", operation="unmatched")) == before + 1


def test_folder_bytes_counts_files(tmp_path: pathlib.Path) -> None:
    from vectron.services.node_metrics import folder_bytes

    empty = folder_bytes(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f").write_bytes(b"x" * 100_000)
    assert folder_bytes(tmp_path) >= empty + 100_000
