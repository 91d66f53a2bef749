"""Running one placement node: the placement FSM in a Raft group, the internal API and
the gRPC server. :func:`serve_placement` is what ``vectrond --role placement`` calls."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from vectron.services.groups import start_service_group
from vectron.services.internal_auth import ClusterCredential
from vectron.services.placement.fsm import PlacementStateMachine
from vectron.services.placement.grpc_server import SERVICE_NAME, PlacementServicer
from vectron.services.placement.healer import Healer
from vectron.services.placement.service import PlacementConfig, PlacementService
from vectron.services.serving import GrpcServer, ReadinessWatcher, start_grpc_server
from vectron.v1 import placement_pb2_grpc

__all__ = ["PlacementNode", "serve_placement"]

log = logging.getLogger(__name__)


@dataclass
class PlacementNode:
    """A running placement node; :meth:`stop` releases everything."""

    fsm: PlacementStateMachine
    group: Any
    service: PlacementService
    grpc: GrpcServer
    watcher: ReadinessWatcher
    healer: Healer
    _stopped: bool = field(default=False, repr=False)

    @property
    def grpc_address(self) -> str:
        return self.grpc.address

    def stop(self, grace: float = 1.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.healer.stop()
        self.watcher.stop()
        self.grpc.stop(grace)
        self.group.stop()
        log.info("placement node stopped")


def serve_placement(
    *,
    data_dir: str | os.PathLike[str],
    raft_address: str,
    peers: Sequence[str] = (),
    grpc_listen: str = "127.0.0.1:0",
    cluster_password: str | None = None,
    config: PlacementConfig | None = None,
    raft_options: dict[str, Any] | None = None,
    max_workers: int = 16,
) -> PlacementNode:
    """Start a placement node (state under ``data_dir``) and its gRPC server on
    ``grpc_listen`` (health: SERVING once the group is ready; reflection on)."""
    fsm, group = start_service_group(PlacementStateMachine, data_dir, raft_address, peers, cluster_password, raft_options)
    try:
        service = PlacementService(group, config)
        server = start_grpc_server(
            grpc_listen,
            lambda s: placement_pb2_grpc.add_PlacementServiceServicer_to_server(PlacementServicer(service), s),
            [SERVICE_NAME],
            max_workers=max_workers,
            credential=ClusterCredential(cluster_password or ""),  # start_service_group refused a missing one
        )
    except BaseException:
        group.stop()
        raise
    watcher = ReadinessWatcher(server, group.is_ready)
    healer = Healer(service, group.is_leader)
    healer.start()
    return PlacementNode(fsm=fsm, group=group, service=service, grpc=server, watcher=watcher, healer=healer)
