"""The gRPC edge of the placement driver: a thin servicer over :class:`PlacementService`.

Errors are mapped to gRPC statuses once, by :mod:`vectron.services.grpc_errors`.
"""

from __future__ import annotations

import grpc

from vectron.errors import InvalidArgument
from vectron.services.grpc_errors import grpc_error_boundary
from vectron.services.internal_auth import caller_node_id
from vectron.services.placement.service import PlacementService
from vectron.v1 import placement_pb2, placement_pb2_grpc

__all__ = ["SERVICE_NAME", "PlacementServicer"]

SERVICE_NAME = placement_pb2.DESCRIPTOR.services_by_name["PlacementService"].full_name


def _ref(ref: placement_pb2.CollectionRef) -> tuple[str, str]:
    return ref.owner, ref.name


class PlacementServicer(placement_pb2_grpc.PlacementServiceServicer):
    def __init__(self, service: PlacementService) -> None:
        self.service = service

    @grpc_error_boundary
    def RegisterWorker(self, request: placement_pb2.RegisterWorkerRequest, context: grpc.ServicerContext) -> placement_pb2.RegisterWorkerResponse:
        return placement_pb2.RegisterWorkerResponse(worker=self.service.register_worker(request.worker, caller_node_id(context)))

    @grpc_error_boundary
    def Heartbeat(self, request: placement_pb2.HeartbeatRequest, context: grpc.ServicerContext) -> placement_pb2.HeartbeatResponse:
        return self.service.heartbeat(request.worker_id, list(request.shards))

    @grpc_error_boundary
    def CreateCollection(self, request: placement_pb2.CreateCollectionRequest, context: grpc.ServicerContext) -> placement_pb2.CreateCollectionResponse:
        hnsw = {k: v for k, v in (("m", request.hnsw.m), ("ef_construct", request.hnsw.ef_construct), ("ef", request.hnsw.ef)) if v}
        routing = self.service.create_collection(
            request.owner,
            request.name,
            request.dimension,
            request.distance or "cosine",
            request.shard_count or 1,
            request.replication_factor or 1,
            hnsw or None,
            [(i.field, i.type) for i in request.payload_indexes],
            not request.auto_index_off,
        )
        return placement_pb2.CreateCollectionResponse(routing=routing)

    @grpc_error_boundary
    def DropCollection(self, request: placement_pb2.DropCollectionRequest, context: grpc.ServicerContext) -> placement_pb2.DropCollectionResponse:
        self.service.drop_collection(*_ref(request.collection))
        return placement_pb2.DropCollectionResponse()

    @grpc_error_boundary
    def ListCollections(self, request: placement_pb2.ListCollectionsRequest, context: grpc.ServicerContext) -> placement_pb2.ListCollectionsResponse:
        return placement_pb2.ListCollectionsResponse(collections=self.service.list_collections(request.owner))

    @grpc_error_boundary
    def GetCollection(self, request: placement_pb2.GetCollectionRequest, context: grpc.ServicerContext) -> placement_pb2.GetCollectionResponse:
        return placement_pb2.GetCollectionResponse(collection=self.service.get_collection(*_ref(request.collection)))

    @grpc_error_boundary
    def GetRoutingTable(self, request: placement_pb2.GetRoutingTableRequest, context: grpc.ServicerContext) -> placement_pb2.GetRoutingTableResponse:
        return placement_pb2.GetRoutingTableResponse(routing=self.service.get_routing_table(*_ref(request.collection)))

    @grpc_error_boundary
    def GetWorker(self, request: placement_pb2.GetWorkerRequest, context: grpc.ServicerContext) -> placement_pb2.GetWorkerResponse:
        kind = request.WhichOneof("point_id")
        if kind is None:
            raise InvalidArgument("point_id (num or str) is required", field="point_id")
        return self.service.get_worker(*_ref(request.collection), getattr(request, kind))

    @grpc_error_boundary
    def ListWorkers(self, request: placement_pb2.ListWorkersRequest, context: grpc.ServicerContext) -> placement_pb2.ListWorkersResponse:
        return placement_pb2.ListWorkersResponse(workers=self.service.list_workers())

    @grpc_error_boundary
    def SetPayloadIndex(self, request: placement_pb2.SetPayloadIndexRequest, context: grpc.ServicerContext) -> placement_pb2.SetPayloadIndexResponse:
        return self.service.set_payload_index(*_ref(request.collection), request.index.field, request.index.type, request.drop)
