"""Snapshots through gRPC workers (the ExportShard stream), the upload limit and a gateway
without a snapshot folder, on the in-process stack (real gRPC workers, real LMDB shards)."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.services.gateway.conftest import Stack
from tests.services.gateway.test_rest import H, create, make_points
from vectron.services.gateway.rest import create_app
from vectron.services.gateway.snapshots import Snapshots


@pytest.fixture
def client(stack: Stack, tmp_path: pathlib.Path) -> Iterator[TestClient]:
    snaps = Snapshots(stack.node.gateway, tmp_path / "snapshots", max_upload_bytes=1 << 20)
    with TestClient(create_app(stack.node.gateway, snapshots=snaps)) as c:
        yield c


def test_snapshot_over_grpc_workers_restores_with_another_shard_count(stack: Stack, client: TestClient) -> None:
    key = stack.account()["key"]
    assert create(stack, key, "src", shards=3).status_code == 201
    points = make_points(40)
    assert stack.http.post("/v1/collections/src/points", json={"points": points}, headers=H(key)).status_code == 200
    made = client.post("/v1/collections/src/snapshots", headers=H(key))
    assert made.status_code == 201, made.text
    snap = made.json()["snapshot"]
    assert snap["points"] == 40 and snap["shards"] == 3
    data = client.get(f"/v1/collections/src/snapshots/{snap['name']}", headers=H(key)).content
    assert len(data) == snap["size"]
    done = client.post("/v1/collections/copy/snapshots/restore?shards=1", content=data,
                       headers={**H(key), "Content-Type": "application/octet-stream"})
    assert done.status_code == 201, done.text
    assert done.json()["restored_points"] == 40 and done.json()["collection"]["shards"] == 1
    got = stack.http.post("/v1/collections/copy/points/get", json={"ids": [p["id"] for p in points]}, headers=H(key)).json()["points"]
    assert {p["id"]: p["payload"] for p in got} == {p["id"]: p["payload"] for p in points}


def test_an_upload_over_the_limit_is_refused(stack: Stack, client: TestClient) -> None:
    key = stack.account()["key"]
    headers = {**H(key), "Content-Type": "application/octet-stream"}
    declared = client.post("/v1/collections/big/snapshots/restore", content=b"x" * ((1 << 20) + 1), headers=headers)
    assert declared.status_code == 413 and declared.json()["error"]["field"] == "body"

    def stream() -> Iterator[bytes]:  # no Content-Length: counted while it streams
        for _ in range(17):
            yield b"y" * (64 << 10)

    streamed = client.post("/v1/collections/big/snapshots/restore", content=stream(), headers=headers)
    assert streamed.status_code == 413
    assert stack.http.get("/v1/collections/big", headers=H(key)).status_code == 404


def test_a_gateway_without_a_snapshot_folder_answers_503(stack: Stack) -> None:
    key = stack.account()["key"]
    assert create(stack, key, "docs").status_code == 201
    r = stack.http.post("/v1/collections/docs/snapshots", headers=H(key))
    assert r.status_code == 503 and "keeps no snapshots" in r.json()["error"]["message"]
