"""The gateway's view of the services behind it: the placement driver and the workers.

* :class:`PlacementClient` calls the gRPC ``PlacementService`` on any of the
  placement nodes given, moving to the next node when one is unavailable;
  errors come back as the vectron.errors the server raised.
* :class:`WorkerPool` keeps one gRPC channel (and ``WorkerService`` stub) per
  worker address, opened on first use.

The auth side is :class:`vectron.services.auth.client.AuthClient` as it is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import grpc

from vectron.services.channels import open_channel
from vectron.services.failover import FailoverStubs
from vectron.v1 import placement_pb2, placement_pb2_grpc, worker_pb2_grpc

__all__ = ["PlacementBackend", "PlacementClient", "WorkerPool", "LocalStub"]


class PlacementBackend(Protocol):
    """What the gateway needs of the placement driver."""

    def create_collection(self, req: placement_pb2.CreateCollectionRequest) -> placement_pb2.RoutingTable: ...

    def drop_collection(self, owner: str, name: str) -> None: ...

    def list_collections(self, owner: str) -> list[placement_pb2.CollectionInfo]: ...

    def get_routing_table(self, owner: str, name: str) -> placement_pb2.RoutingTable: ...


class PlacementClient:
    """A failover client of the gRPC PlacementService (any node answers any call)."""

    def __init__(self, addresses: Sequence[str], *, timeout: float = 10.0) -> None:
        self._nodes = FailoverStubs(
            addresses, placement_pb2_grpc.PlacementServiceStub, timeout=timeout, what="placement"
        )
        self._call = self._nodes.call

    def close(self) -> None:
        self._nodes.close()

    @staticmethod
    def _ref(owner: str, name: str) -> placement_pb2.CollectionRef:
        return placement_pb2.CollectionRef(owner=owner, name=name)

    def create_collection(self, req: placement_pb2.CreateCollectionRequest) -> placement_pb2.RoutingTable:
        return self._call(lambda s, t: s.CreateCollection(req, timeout=t), idempotent=False).routing

    def drop_collection(self, owner: str, name: str) -> None:
        req = placement_pb2.DropCollectionRequest(collection=self._ref(owner, name))
        self._call(lambda s, t: s.DropCollection(req, timeout=t), idempotent=False)

    def list_collections(self, owner: str) -> list[placement_pb2.CollectionInfo]:
        req = placement_pb2.ListCollectionsRequest(owner=owner)
        return list(self._call(lambda s, t: s.ListCollections(req, timeout=t)).collections)

    def get_routing_table(self, owner: str, name: str) -> placement_pb2.RoutingTable:
        req = placement_pb2.GetRoutingTableRequest(collection=self._ref(owner, name))
        return self._call(lambda s, t: s.GetRoutingTable(req, timeout=t)).routing

    def list_workers(self) -> list[placement_pb2.WorkerInfo]:
        return list(self._call(lambda s, t: s.ListWorkers(placement_pb2.ListWorkersRequest(), timeout=t)).workers)


class _LocalRpcError(grpc.RpcError):
    """What a local call raises where a remote one would raise grpc.RpcError."""

    def __init__(self, code: grpc.StatusCode, details: str, trailers: tuple[tuple[str, str], ...]) -> None:
        super().__init__(details)
        self._code, self._details, self._trailers = code, details, trailers

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._trailers


class _LocalContext:
    """The parts of grpc.ServicerContext a servicer uses, for in-process calls."""

    def __init__(self, timeout: float | None) -> None:
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._trailers: tuple[tuple[str, str], ...] = ()
        self._code: grpc.StatusCode | None = None

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return ()

    def time_remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def set_trailing_metadata(self, metadata: Sequence[tuple[str, str]]) -> None:
        self._trailers = tuple(metadata)

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def set_details(self, details: str) -> None:
        pass

    def is_active(self) -> bool:
        return True

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        self._code = code
        raise _LocalRpcError(code, details, self._trailers)


class _LocalMethod:
    def __init__(self, fn: Callable[[Any, Any], Any], pool: ThreadPoolExecutor) -> None:
        self._fn = fn
        self._pool = pool

    def __call__(self, request: Any, timeout: float | None = None, metadata: Any = None) -> Any:
        return self._fn(request, _LocalContext(timeout))

    def future(self, request: Any, timeout: float | None = None, metadata: Any = None) -> Future[Any]:
        return self._pool.submit(self, request, timeout)


class LocalStub:
    """A WorkerService stub that calls a servicer in this process (``vectrond --role all``):
    the same requests, answers and errors, without serialization or HTTP/2."""

    def __init__(self, servicer: Any, pool: ThreadPoolExecutor) -> None:
        self._servicer = servicer
        self._pool = pool

    def __getattr__(self, method: str) -> _LocalMethod:
        return _LocalMethod(getattr(self._servicer, method), self._pool)


class WorkerPool:
    """One channel and ``WorkerService`` stub per worker gRPC address (or a
    :class:`LocalStub` for a worker registered as running in this process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stubs: dict[str, Any] = {}
        self._channels: dict[str, grpc.Channel] = {}
        self._local_pool: ThreadPoolExecutor | None = None

    def register_local(self, address: str, servicer: Any, *, threads: int = 16) -> None:
        """Calls to ``address`` go straight to ``servicer`` (a WorkerServicer in this process)."""
        with self._lock:
            if self._local_pool is None:
                self._local_pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="local-worker")
            self._stubs[address] = LocalStub(servicer, self._local_pool)

    def stub(self, address: str) -> Any:
        with self._lock:
            stub = self._stubs.get(address)
            if stub is None:
                channel = open_channel(address)
                self._channels[address] = channel
                stub = self._stubs[address] = worker_pb2_grpc.WorkerServiceStub(channel)
            return stub

    def close(self) -> None:
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()
            self._stubs.clear()
            if self._local_pool is not None:
                self._local_pool.shutdown(wait=False, cancel_futures=True)
