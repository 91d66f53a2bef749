"""Starting a gRPC server the way every Vectron service does: health checking and
reflection on, a bounded thread pool, a listen address that may pick a free port.

An internal server (auth, placement, worker) is given the cluster ``credential``:
every call but gRPC health must then carry a valid cluster token
(:class:`~vectron.services.internal_auth.InternalAuthInterceptor`, first in the
chain). With TLS files (given, or configured for the process) the port serves TLS;
an internal server asks for a client certificate signed by the CA (mutual TLS)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from vectron.services.channels import SERVER_OPTIONS
from vectron.services.internal_auth import ClusterCredential, InternalAuthInterceptor
from vectron.services.tls import TlsFiles

__all__ = ["GrpcServer", "start_grpc_server", "ReadinessWatcher"]

log = logging.getLogger(__name__)


@dataclass
class GrpcServer:
    server: grpc.Server
    port: int
    address: str
    health: health.HealthServicer
    service_names: Sequence[str] = field(default_factory=tuple)

    def set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in (*self.service_names, ""):
            self.health.set(name, status)

    def stop(self, grace: float | None = 1.0) -> None:
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()


def start_grpc_server(
    listen: str,
    register: Callable[[grpc.Server], None],
    service_names: Sequence[str],
    *,
    max_workers: int = 16,
    interceptors: Sequence[grpc.ServerInterceptor] = (),
    options: Sequence[tuple[str, int | str]] = (),
    credential: ClusterCredential | None = None,
    tls: TlsFiles | None = None,
) -> GrpcServer:
    """Start a server on ``listen`` (``host:port``, port 0 picks a free one) with the
    services ``register`` adds, plus health checking (NOT_SERVING until
    :meth:`GrpcServer.set_serving`) and reflection. With ``credential`` (internal
    servers) unauthenticated calls are refused; ``tls`` defaults to the process's."""
    tls = tls or TlsFiles.from_env()
    if tls is not None:
        tls.check()
    auth = [InternalAuthInterceptor(credential)] if credential is not None else []
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
        interceptors=[*auth, *interceptors],
        # one value per option, the caller's winning (gRPC would keep the first of duplicates)
        options=list(dict([("grpc.so_reuseport", 0), *SERVER_OPTIONS, *options]).items()),
    )
    register(server)
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server
    )
    if tls is not None:
        port = server.add_secure_port(listen, tls.server_credentials(client_auth=credential is not None))
    else:
        port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    server.start()
    host = listen.rpartition(":")[0] or "0.0.0.0"
    out = GrpcServer(server=server, port=port, address=f"{host}:{port}", health=health_servicer, service_names=tuple(service_names))
    out.set_serving(False)
    log.info("gRPC %s listening on %s", ", ".join(service_names), out.address)
    return out


class ReadinessWatcher:
    """A daemon thread that keeps a server's health status in step with ``ready()``."""

    def __init__(self, server: GrpcServer, ready: Callable[[], bool], *, interval: float = 0.5) -> None:
        self._server = server
        self._ready = ready
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="readiness", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last: bool | None = None
        while not self._stop.is_set():
            try:
                now = bool(self._ready())
            except Exception:
                now = False
            if now != last:
                self._server.set_serving(now)
                last = now
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
