"""Running one gateway: the internal API, its REST server (uvicorn) and its gRPC server.

:func:`serve_gateway` is what ``vectrond --role gateway`` calls; tests call it too.
Listening sockets are bound before anything starts, so a port in use is a clear
error (``OSError``) and nothing is left half started.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from vectron.services.auth.client import AuthClient
from vectron.services.gateway.api import Gateway, GatewayConfig
from vectron.services.gateway.backends import PlacementClient
from vectron.services.gateway.edge import EdgeLimits, uvicorn_settings
from vectron.services.gateway.metrics import GatewayMetrics
from vectron.services.gateway.rest import create_app
from vectron.services.gateway.snapshots import Snapshots
from vectron.services.gateway.workers import WorkerPool
from vectron.services.tls import uvicorn_tls

__all__ = ["GatewayNode", "serve_gateway", "bind_tcp", "split_address"]

log = logging.getLogger(__name__)


def split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected host:port, got {address!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def bind_tcp(address: str) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one). OSError if in use."""
    host, port = split_address(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class _RestServer:
    """uvicorn on a pre-bound socket, in a thread."""

    def __init__(self, app: Any, sock: socket.socket, limits: EdgeLimits, log_level: str = "warning") -> None:
        self.sock = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level=log_level, access_log=False, lifespan="off", timeout_graceful_shutdown=2, **uvicorn_settings(limits), **uvicorn_tls()
        )
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # the daemon owns signals
        self.thread = threading.Thread(target=self._run, name="rest", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        # Server.run sets up uvicorn's event loop (uvloop when installed): a bare asyncio.run
        # here answered each keep-alive request ~45 ms late (Nagle + delayed ACK on loopback).
        self.server.run(sockets=[self.sock])

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.sock.close()


@dataclass
class GatewayNode:
    """A running gateway; :meth:`stop` releases everything."""

    gateway: Gateway
    rest: _RestServer
    grpc: Any
    rest_address: str
    grpc_address: str
    #: the registry /metrics renders (the node adds its Raft and worker collector to it)
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)
    _closers: list[Any] = field(default_factory=list, repr=False)
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        return f"{'https' if uvicorn_tls() else 'http'}://{self.rest_address}"

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.rest.stop()
        if self.grpc is not None:
            self.grpc.stop(1.0)
        self.gateway.close()
        for close in self._closers:
            close()
        log.info("gateway stopped")


def serve_gateway(
    *,
    auth_addresses: Sequence[str],
    placement_addresses: Sequence[str],
    rest_listen: str = "127.0.0.1:8080",
    grpc_listen: str | None = "127.0.0.1:9090",
    config: GatewayConfig | None = None,
    limits: EdgeLimits | None = None,
    rest_socket: socket.socket | None = None,
    snapshot_dir: str | None = None,
) -> GatewayNode:
    """Start a gateway in front of the given auth and placement nodes (workers are found
    through the placement driver's routing tables); collection snapshots are kept in
    ``snapshot_dir`` (None: none are kept)."""
    sock = rest_socket or bind_tcp(rest_listen)
    auth = AuthClient(list(auth_addresses))
    placement = PlacementClient(list(placement_addresses))
    limits = limits or EdgeLimits()
    gateway = Gateway(auth, placement, WorkerPool(), config)
    metrics = GatewayMetrics()
    grpc_server = None
    try:
        if grpc_listen:
            from vectron.services.gateway.grpc_server import start_gateway_grpc

            grpc_server = start_gateway_grpc(gateway, grpc_listen, metrics=metrics, max_message_bytes=limits.max_body_bytes)
        rest = _RestServer(create_app(gateway, metrics=metrics, limits=limits, snapshots=Snapshots(gateway, snapshot_dir)), sock, limits)
    except BaseException:
        sock.close()
        if grpc_server is not None:
            grpc_server.stop(0)
        gateway.close()
        auth.close()
        placement.close()
        raise
    host = split_address(rest_listen)[0]
    node = GatewayNode(
        gateway=gateway,
        rest=rest,
        grpc=grpc_server,
        rest_address=f"{host}:{rest.port}",
        grpc_address=grpc_server.address if grpc_server is not None else "",
        metrics=metrics,
        _closers=[auth.close, placement.close],
    )
    log.info("gateway: REST on http://%s, gRPC on %s", node.rest_address, node.grpc_address or "(off)")
    return node
