"""`vectrond`: the Vectron server daemon.

    vectrond --role auth --data-dir ./auth1 --raft-addr 127.0.0.1:7401 \\
             --peers 127.0.0.1:7402,127.0.0.1:7403 --grpc-listen 127.0.0.1:7501 \\
             --jwt-secret-file ./jwt.secret          # VECTRON_CLUSTER_PASSWORD in the env

Roles not built yet (gateway, placement, worker) are refused with a clear error.
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
BUILT_ROLES = ("auth",)
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
    log_level: str,
) -> None:
    """Run a Vectron node."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parse_roles(role)
    from vectron.errors import VectronError
    from vectron.services.auth.node import serve_auth
    from vectron.services.auth.service import AuthConfig
    from vectron.services.auth.sessions import load_secret

    peer_list = [p.strip() for p in peers.split(",") if p.strip()]
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


if __name__ == "__main__":
    main()
