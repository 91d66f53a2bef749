"""`vectrond`: the Vectron server daemon.

    vectrond --role auth --data-dir ./auth1 --raft-addr 127.0.0.1:7401 \\
             --peers 127.0.0.1:7402,127.0.0.1:7403 --grpc-listen 127.0.0.1:7501 \\
             --jwt-secret-file ./jwt.secret          # VECTRON_CLUSTER_PASSWORD in the env

    vectrond --role placement --data-dir ./pd1 --raft-addr 127.0.0.1:7301 \\
             --peers 127.0.0.1:7302,127.0.0.1:7303 --grpc-listen 127.0.0.1:7311
    vectrond --role worker --data-dir ./w1 --placement 127.0.0.1:7311,127.0.0.1:7312,127.0.0.1:7313 \\
             --grpc-listen 127.0.0.1:7701 --raft-host 127.0.0.1 --raft-ports 7600-7699

One role per process. Roles not built yet (gateway) are refused with a clear error.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

import click

__all__ = ["main", "ROLES", "BUILT_ROLES"]

log = logging.getLogger("vectrond")

ROLES = ("gateway", "auth", "placement", "worker")
BUILT_ROLES = ("auth", "placement", "worker")
CLUSTER_PASSWORD_ENV = "VECTRON_CLUSTER_PASSWORD"


def parse_roles(value: str) -> list[str]:
    roles = [r.strip().lower() for r in value.split(",") if r.strip()]
    if roles == ["all"]:
        roles = list(ROLES)
    if not roles:
        raise click.BadParameter("give at least one role", param_hint="--role")
    for role in roles:
        if role not in ROLES:
            raise click.BadParameter(f"unknown role {role!r}; roles: {', '.join(ROLES)} or all", param_hint="--role")
    missing = [r for r in roles if r not in BUILT_ROLES]
    if missing:
        raise click.UsageError(
            f"role(s) {', '.join(missing)} not built yet; available now: {', '.join(BUILT_ROLES)} "
            "(the embedded store works too: `import vectron; vectron.open(path)`)"
        )
    if len(roles) > 1:
        raise click.UsageError(
            f"running several roles ({', '.join(roles)}) in one process is not built yet; run one vectrond per role"
        )
    return roles


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--role", default="all", show_default=True, help="gateway,auth,placement,worker (any comma list) or all")
@click.option("--data-dir", type=click.Path(file_okay=False), default="./vectron-data", show_default=True,
              help="where this node keeps its state (one subfolder per role)")
@click.option("--raft-addr", default="127.0.0.1:7400", show_default=True,
              help="this node's auth Raft address host:port (what peers dial)")
@click.option("--peers", default="", help="comma list of the other auth nodes' Raft addresses (empty: single node)")
@click.option("--grpc-listen", default="127.0.0.1:7500", show_default=True, help="gRPC listen address host:port")
@click.option("--jwt-secret-file", type=click.Path(dir_okay=False), default=None,
              help="file holding the session signing secret (else $VECTRON_AUTH_JWT_SECRET; a single node "
                   "without either generates one in its data dir)")
@click.option("--cluster-password", envvar=CLUSTER_PASSWORD_ENV, default=None,
              help=f"Raft cluster password (prefer the env var {CLUSTER_PASSWORD_ENV}: flags show in ps)")
@click.option("--bcrypt-rounds", type=click.IntRange(4, 16), default=12, show_default=True)
@click.option("--session-ttl", type=click.IntRange(60, 30 * 86400), default=3600, show_default=True,
              help="session token lifetime, seconds")
@click.option("--placement", "placement_addrs", default="",
              help="worker: comma list of the placement nodes' gRPC addresses")
@click.option("--worker-id", default=None, help="worker: its id (default: generated once, kept in the data dir)")
@click.option("--raft-host", default="127.0.0.1", show_default=True, help="worker: host its shard replicas' Raft ports bind on")
@click.option("--raft-ports", default="7600-7699", show_default=True, help="worker: Raft port range for its shard replicas")
@click.option("--advertise-addr", default=None, help="worker: gRPC address given to others (default: --grpc-listen)")
@click.option("--capacity", type=click.IntRange(0), default=0, show_default=True, help="worker: max shard replicas (0: no limit)")
@click.option("--log-level", default="INFO", show_default=True)
def main(
    role: str,
    data_dir: str,
    raft_addr: str,
    peers: str,
    grpc_listen: str,
    jwt_secret_file: str | None,
    cluster_password: str | None,
    bcrypt_rounds: int,
    session_ttl: int,
    placement_addrs: str,
    worker_id: str | None,
    raft_host: str,
    raft_ports: str,
    advertise_addr: str | None,
    capacity: int,
    log_level: str,
) -> None:
    """Run a Vectron node."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    (only_role,) = parse_roles(role)
    peer_list = [p.strip() for p in peers.split(",") if p.strip()]
    if only_role == "placement":
        _wait_for_signal(_start_placement(data_dir, raft_addr, peer_list, grpc_listen, cluster_password))
        return
    if only_role == "worker":
        _wait_for_signal(
            _start_worker(
                data_dir, placement_addrs, worker_id, raft_host, raft_ports, grpc_listen, advertise_addr, capacity, cluster_password
            )
        )
        return
    from vectron.errors import VectronError
    from vectron.services.auth.node import serve_auth
    from vectron.services.auth.service import AuthConfig
    from vectron.services.auth.sessions import load_secret

    auth_dir = os.path.join(data_dir, "auth")
    try:
        secret = load_secret(secret_file=jwt_secret_file, data_dir=auth_dir, allow_generate=not peer_list)
    except VectronError as exc:
        raise click.UsageError(exc.message) from None
    if peer_list and not cluster_password:
        raise click.UsageError(f"a multi-node group needs a cluster password: set {CLUSTER_PASSWORD_ENV}")
    node = serve_auth(
        data_dir=auth_dir,
        raft_address=raft_addr,
        peers=peer_list,
        grpc_listen=grpc_listen,
        jwt_secret=secret,
        cluster_password=cluster_password,
        config=AuthConfig(bcrypt_rounds=bcrypt_rounds, session_ttl_seconds=session_ttl),
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        log.info("signal %d: shutting down", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("auth node %s serving gRPC on %s (peers: %s)", raft_addr, node.grpc.address, ", ".join(peer_list) or "none")
    while not stop.wait(1.0):
        pass
    node.stop()


def _wait_for_signal(node: object) -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        log.info("signal %d: shutting down", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stop.wait(1.0):
        pass
    node.stop()  # type: ignore[attr-defined]


def _start_placement(data_dir: str, raft_addr: str, peers: list[str], grpc_listen: str, cluster_password: str | None) -> object:
    from vectron.services.placement.node import serve_placement

    if peers and not cluster_password:
        raise click.UsageError(f"a multi-node group needs a cluster password: set {CLUSTER_PASSWORD_ENV}")
    node = serve_placement(
        data_dir=os.path.join(data_dir, "placement"), raft_address=raft_addr, peers=peers,
        grpc_listen=grpc_listen, cluster_password=cluster_password,
    )
    log.info("placement node %s serving gRPC on %s (peers: %s)", raft_addr, node.grpc_address, ", ".join(peers) or "none")
    return node


def _start_worker(
    data_dir: str,
    placement_addrs: str,
    worker_id: str | None,
    raft_host: str,
    raft_ports: str,
    grpc_listen: str,
    advertise_addr: str | None,
    capacity: int,
    cluster_password: str | None,
) -> object:
    from vectron.errors import VectronError
    from vectron.services.worker.node import parse_port_range, serve_worker

    placement = [p.strip() for p in placement_addrs.split(",") if p.strip()]
    if not placement:
        raise click.UsageError("a worker needs --placement: the placement nodes' gRPC addresses")
    try:
        ports = parse_port_range(raft_ports)
    except VectronError as exc:
        raise click.UsageError(exc.message) from None
    if not cluster_password:
        log.warning("no cluster password: shard groups accept Raft messages from anyone reaching their ports")
    node = serve_worker(
        data_dir=os.path.join(data_dir, "worker"), placement=placement, raft_host=raft_host, raft_ports=ports,
        grpc_listen=grpc_listen, advertise_address=advertise_addr, worker_id=worker_id, capacity=capacity,
        cluster_password=cluster_password,
    )
    log.info("worker %s serving gRPC on %s (placement: %s)", node.worker_id, node.grpc_address, ", ".join(placement))
    return node


if __name__ == "__main__":
    main()
