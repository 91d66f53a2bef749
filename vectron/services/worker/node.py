"""Running one worker: its shard replicas (each a Raft group member), the WorkerService
gRPC server and the placement agent. :func:`serve_worker` is what
``vectrond --role worker`` calls; tests call it too."""

from __future__ import annotations

import logging
import os
import pathlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from vectron.errors import InvalidArgument
from vectron.services.internal_auth import ClusterCredential
from vectron.services.serving import GrpcServer, start_grpc_server
from vectron.services.worker.agent import PlacementAgent
from vectron.services.worker.fsm import ShardStateMachine
from vectron.services.worker.grpc_server import SERVICE_NAME, WorkerServicer
from vectron.services.worker.replicas import ReplicaHost
from vectron.services.worker.service import WorkerConfig, WorkerService
from vectron.v1 import placement_pb2, worker_pb2_grpc

__all__ = ["WorkerNode", "serve_worker", "worker_id_for", "parse_port_range"]

log = logging.getLogger(__name__)


def parse_port_range(text: str) -> tuple[int, int]:
    """``"7600-7699"`` -> (7600, 7699)."""
    lo, sep, hi = text.partition("-")
    try:
        low, high = int(lo), int(hi if sep else lo)
    except ValueError:
        raise InvalidArgument(f"a port range looks like 7600-7699, got {text!r}", field="raft_ports") from None
    if not 1 <= low <= high <= 65535:
        raise InvalidArgument(f"port range {text!r} is outside 1-65535 or reversed", field="raft_ports")
    return low, high


def worker_id_for(data_dir: str | os.PathLike[str], worker_id: str | None = None) -> str:
    """The worker's id: given, else the one stored in ``<data_dir>/worker-id``, else a new one (stored)."""
    path = pathlib.Path(data_dir) / "worker-id"
    if worker_id:
        return worker_id
    if path.exists():
        return path.read_text().strip()
    new = f"worker-{uuid.uuid4().hex[:12]}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new + "\n")
    return new


@dataclass
class WorkerNode:
    """A running worker; :meth:`stop` releases everything (replica state stays on disk)."""

    worker_id: str
    host: ReplicaHost
    service: WorkerService
    servicer: WorkerServicer
    grpc: GrpcServer
    agent: PlacementAgent
    _stopped: bool = field(default=False, repr=False)

    @property
    def grpc_address(self) -> str:
        return self.grpc.address

    def stop(self, grace: float = 1.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.agent.stop()
        self.grpc.stop(grace)
        self.servicer.channels.close()
        self.host.close()
        log.info("worker %s stopped", self.worker_id)


def serve_worker(
    *,
    data_dir: str | os.PathLike[str],
    placement: Sequence[str],
    raft_host: str = "127.0.0.1",
    raft_ports: tuple[int, int] = (7600, 7699),
    grpc_listen: str = "127.0.0.1:0",
    advertise_address: str | None = None,
    worker_id: str | None = None,
    capacity: int = 0,
    cluster_password: str | None = None,
    raft_options: dict[str, Any] | None = None,
    heartbeat_interval: float = 1.0,
    config: WorkerConfig | None = None,
    durable: bool = True,
    max_workers: int = 32,
) -> WorkerNode:
    """Start a worker: reopen its replicas from ``data_dir``, serve gRPC on ``grpc_listen``
    and register/heartbeat with the placement nodes at ``placement`` (gRPC addresses)."""
    from vectron.raft import RaftConfig, RaftGroup

    if not cluster_password:
        raise InvalidArgument("a cluster password is required (VECTRON_CLUSTER_PASSWORD)", field="cluster_password")
    os.makedirs(data_dir, exist_ok=True)
    wid = worker_id_for(data_dir, worker_id)

    def factory(fsm: ShardStateMachine, self_address: str, peers: list[str], raft_dir: pathlib.Path) -> Any:
        config = RaftConfig(
            self_address=self_address,
            peers=[self_address, *peers],
            data_dir=str(raft_dir),
            password=cluster_password,
            durable=durable,
            **(raft_options or {}),
        )
        return RaftGroup(fsm, config)

    host = ReplicaHost(data_dir, factory, durable=durable)
    reopened = host.open_local()
    log.info("worker %s reopened %d replica(s)", wid, len(reopened))
    service = WorkerService(host, wid, config)
    servicer = WorkerServicer(service)
    try:
        server = start_grpc_server(
            grpc_listen, lambda s: worker_pb2_grpc.add_WorkerServiceServicer_to_server(servicer, s), [SERVICE_NAME], max_workers=max_workers,
            credential=ClusterCredential(cluster_password),
        )
    except BaseException:
        host.close()
        raise
    server.set_serving(True)
    info = placement_pb2.WorkerInfo(
        worker_id=wid,
        grpc_address=advertise_address or server.address,
        raft_host=raft_host,
        raft_port_min=raft_ports[0],
        raft_port_max=raft_ports[1],
        capacity=capacity,
    )
    agent = PlacementAgent(
        info, list(placement), host, service.shard_stats, interval=heartbeat_interval,
        state_file=os.path.join(data_dir, "placement-version"),
    )
    agent.start()
    return WorkerNode(worker_id=wid, host=host, service=service, servicer=servicer, grpc=server, agent=agent)
