"""A worker answering a status the worker API never uses on purpose (UNIMPLEMENTED from a
worker of another version, INTERNAL, DATA_LOSS, UNKNOWN) reaches the gateway as
Unavailable (503) naming the status, never as a 500 (issue 11 item 8)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from vectron.errors import Unavailable
from vectron.services.gateway.workers import GrpcWorkerClient, PointWrite, SearchSpec, ShardTarget
from vectron.services.serving import start_grpc_server
from vectron.v1 import worker_pb2_grpc

SHARD = ShardTarget("c0ffee", 0, 1)


class _Aborting(worker_pb2_grpc.WorkerServiceServicer):
    """Every call ends with one fixed status (the base class answers UNIMPLEMENTED)."""

    def __init__(self, code: grpc.StatusCode) -> None:
        self.code = code

    def _abort(self, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(self.code, "something odd")

    Upsert = Search = Get = Count = Scroll = _abort


def _serve(servicer: worker_pb2_grpc.WorkerServiceServicer) -> Iterator[GrpcWorkerClient]:
    server = start_grpc_server("127.0.0.1:0", lambda s: worker_pb2_grpc.add_WorkerServiceServicer_to_server(servicer, s), [])
    try:
        with grpc.insecure_channel(server.address) as channel:
            yield GrpcWorkerClient(worker_pb2_grpc.WorkerServiceStub(channel))
    finally:
        server.stop(None)


@pytest.fixture(params=["UNIMPLEMENTED", "INTERNAL", "DATA_LOSS", "UNKNOWN"])
def client(request: pytest.FixtureRequest) -> Iterator[GrpcWorkerClient]:
    code = getattr(grpc.StatusCode, request.param)
    servicer = worker_pb2_grpc.WorkerServiceServicer() if request.param == "UNIMPLEMENTED" else _Aborting(code)
    yield from _serve(servicer)


def test_an_unexpected_worker_status_is_unavailable_naming_it(client: GrpcWorkerClient, request: pytest.FixtureRequest) -> None:
    name = request.node.callspec.params["client"]
    calls = [
        lambda: client.upsert(SHARD, [PointWrite(1, [0.1, 0.2], None, "")], "rid", 5.0),
        lambda: client.search(SHARD, [[0.1, 0.2]], SearchSpec(3, None, "", None, True, False, None), 5.0),
        lambda: client.count(SHARD, None, "", None, 5.0),
    ]
    for call in calls:
        with pytest.raises(Unavailable) as info:
            call()
        assert info.value.http_status == 503
        assert name in info.value.message
