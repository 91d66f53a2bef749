"""Running one auth node: the auth FSM in a Raft group, the internal API, and the gRPC server.

:func:`serve_auth` is what ``vectrond --role auth`` calls; tests call it too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from vectron.errors import InvalidArgument
from vectron.services.auth.fsm import AuthStateMachine
from vectron.services.auth.grpc_server import SERVICE_NAME, AuthServicer
from vectron.services.auth.service import AuthConfig, AuthService
from vectron.services.auth.sessions import TokenIssuer
from vectron.services.serving import GrpcServer, ReadinessWatcher, start_grpc_server
from vectron.v1 import auth_pb2_grpc

__all__ = ["AuthNode", "serve_auth"]

log = logging.getLogger(__name__)


@dataclass
class AuthNode:
    """A running auth node; :meth:`stop` releases everything."""

    fsm: AuthStateMachine
    group: Any
    service: AuthService
    grpc: GrpcServer
    watcher: ReadinessWatcher
    _stopped: bool = field(default=False, repr=False)

    @property
    def grpc_address(self) -> str:
        return self.grpc.address

    def stop(self, grace: float = 1.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.watcher.stop()
        self.grpc.stop(grace)
        self.group.stop()  # closes the FSM
        log.info("auth node stopped")


def serve_auth(
    *,
    data_dir: str | os.PathLike[str],
    raft_address: str,
    peers: Sequence[str] = (),
    grpc_listen: str = "127.0.0.1:0",
    jwt_secret: bytes,
    cluster_password: str | None = None,
    config: AuthConfig | None = None,
    raft_options: dict[str, Any] | None = None,
    max_workers: int = 16,
) -> AuthNode:
    """Start an auth node: its Raft group replica (state under ``data_dir``) and a gRPC
    server on ``grpc_listen`` with health checking (SERVING once the group is
    ready) and reflection. Returns at once; the node joins its group in the background."""
    from vectron.raft import RaftConfig, RaftGroup

    if not cluster_password:
        raise InvalidArgument("a cluster password is required (VECTRON_CLUSTER_PASSWORD)", field="cluster_password")
    config = config or AuthConfig()
    os.makedirs(data_dir, exist_ok=True)
    fsm = AuthStateMachine(os.path.join(data_dir, "state"))
    try:
        group = RaftGroup(
            fsm,
            RaftConfig(
                self_address=raft_address,
                peers=[raft_address, *peers],
                data_dir=os.path.join(data_dir, "raft"),
                password=cluster_password,
                **(raft_options or {}),
            ),
        )
    except BaseException:
        fsm.close()
        raise
    try:
        service = AuthService(group, TokenIssuer(jwt_secret, ttl_seconds=config.session_ttl_seconds), config)
        server = start_grpc_server(
            grpc_listen,
            lambda s: auth_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(service), s),
            [SERVICE_NAME],
            max_workers=max_workers,
        )
    except BaseException:
        group.stop()
        raise
    watcher = ReadinessWatcher(server, group.is_ready)
    return AuthNode(fsm=fsm, group=group, service=service, grpc=server, watcher=watcher)
