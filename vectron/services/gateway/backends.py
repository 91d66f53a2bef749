"""The gateway's client of the placement driver.

:class:`PlacementClient` calls the gRPC ``PlacementService`` on any of the
placement nodes given, moving to the next node when one is unavailable; errors
come back as the vectron.errors the server raised. (The workers are reached
through :mod:`vectron.services.gateway.workers`; the auth side is
:class:`vectron.services.auth.client.AuthClient` as it is.)
"""

from __future__ import annotations

from collections.abc import Sequence

from vectron.services.failover import FailoverStubs
from vectron.v1 import placement_pb2, placement_pb2_grpc

__all__ = ["PlacementClient"]


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

    def set_payload_index(self, owner: str, name: str, field: str, index_type: str, drop: bool) -> placement_pb2.SetPayloadIndexResponse:
        req = placement_pb2.SetPayloadIndexRequest(
            collection=self._ref(owner, name), index=placement_pb2.PayloadIndexSpec(field=field, type=index_type), drop=drop
        )
        return self._call(lambda s, t: s.SetPayloadIndex(req, timeout=t), idempotent=True)
