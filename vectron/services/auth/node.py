"""Running one auth node: the auth FSM in a Raft group, the internal API, and the gRPC server.

:func:`serve_auth` is what ``vectrond --role auth`` calls; tests call it too.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from vectron.services.auth.fsm import AuthStateMachine
from vectron.services.auth.grpc_server import SERVICE_NAME, AuthServicer
from vectron.services.auth.service import AuthConfig, AuthService
from vectron.services.auth.sessions import TokenIssuer
from vectron.services.groups import start_service_group
from vectron.services.internal_auth import ClusterCredential
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
    status_file: str | None = None
    _stopped: bool = field(default=False, repr=False)
    _stop_status: threading.Event = field(default_factory=threading.Event, repr=False)
    _status_thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def grpc_address(self) -> str:
        return self.grpc.address

    def status(self) -> dict[str, Any]:
        """This node's auth replica (role, leader, term, indexes), in the shape of the
        node runner's ``status.json``."""
        try:
            st = dict(self.group.status())
        except Exception as exc:
            st = {"error": str(exc)}
        group = {"group": "auth", **{k: v for k, v in st.items() if isinstance(v, (str, int, float, bool, type(None)))}}
        return {"node": self.group.self_address, "pid": os.getpid(), "at": time.time(), "grpc": self.grpc.address, "groups": [group]}

    def _write_status(self) -> None:
        assert self.status_file is not None
        while not self._stop_status.wait(1.0):
            try:
                tmp = self.status_file + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(self.status(), f)
                os.replace(tmp, self.status_file)
            except Exception:
                log.debug("status write failed", exc_info=True)

    def stop(self, grace: float = 1.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._stop_status.set()
        if self._status_thread is not None:
            self._status_thread.join(timeout=5)
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
    status_file: str | os.PathLike[str] | None = None,
) -> AuthNode:
    """Start an auth node: its Raft group replica (state under ``data_dir``) and a gRPC
    server on ``grpc_listen`` with health checking (SERVING once the group is
    ready) and reflection. Returns at once; the node joins its group in the background.
    With ``status_file``, the replica's Raft status is written there as JSON every second."""
    config = config or AuthConfig()
    fsm, group = start_service_group(AuthStateMachine, data_dir, raft_address, peers, cluster_password, raft_options)
    try:
        service = AuthService(group, TokenIssuer(jwt_secret, ttl_seconds=config.session_ttl_seconds), config)
        server = start_grpc_server(
            grpc_listen,
            lambda s: auth_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(service), s),
            [SERVICE_NAME],
            max_workers=max_workers,
            credential=ClusterCredential(cluster_password or ""),  # start_service_group refused a missing one
        )
    except BaseException:
        group.stop()
        raise
    watcher = ReadinessWatcher(server, group.is_ready)
    node = AuthNode(
        fsm=fsm, group=group, service=service, grpc=server, watcher=watcher,
        status_file=os.fspath(status_file) if status_file is not None else None,
    )
    if node.status_file is not None:
        node._status_thread = threading.Thread(target=node._write_status, name="auth-status", daemon=True)
        node._status_thread.start()
    return node
