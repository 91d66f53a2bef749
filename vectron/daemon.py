"""`vectrond`: the Vectron server daemon.

    vectrond --role auth --data-dir ./auth1 --raft-addr 127.0.0.1:7401 \\
             --peers 127.0.0.1:7402,127.0.0.1:7403 --grpc-listen 127.0.0.1:7501 \\
             --jwt-secret-file ./jwt.secret          # VECTRON_CLUSTER_PASSWORD in the env

    vectrond --role placement --data-dir ./pd1 --raft-addr 127.0.0.1:7301 \\
             --peers 127.0.0.1:7302,127.0.0.1:7303 --grpc-listen 127.0.0.1:7311
    vectrond --role worker --data-dir ./w1 --placement 127.0.0.1:7311,127.0.0.1:7312,127.0.0.1:7313 \\
             --grpc-listen 127.0.0.1:7701 --raft-host 127.0.0.1 --raft-ports 7600-7699

    vectrond --role all                 # one node, every role: REST 127.0.0.1:8080, gRPC 127.0.0.1:9090
    vectrond --role all --config node1.toml   # or flags, or VECTRON_* environment variables

One role (auth, placement, worker) runs as above; several roles (any comma list,
``all``, or ``gateway``) run through :mod:`vectron.services.runner`. Settings come
from flags, then ``VECTRON_<FLAG>`` environment variables (``VECTRON_REST_LISTEN``),
then the TOML file given with ``--config`` (keys are flag names), then defaults.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import tomllib
from typing import Any

import click

__all__ = ["main", "ROLES", "BUILT_ROLES"]

log = logging.getLogger("vectrond")

ROLES = ("gateway", "auth", "placement", "worker")
BUILT_ROLES = ("gateway", "auth", "placement", "worker")
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
    return list(dict.fromkeys(roles))


def _load_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--config FILE``: a TOML file whose keys are flag names; it supplies defaults."""
    if not value:
        return value
    try:
        with open(value, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise click.BadParameter(f"cannot read {value}: {exc.strerror}", ctx=ctx, param=param) from None
    except tomllib.TOMLDecodeError as exc:
        raise click.BadParameter(f"{value} is not valid TOML: {exc}", ctx=ctx, param=param) from None
    names = {p.name: p for p in ctx.command.params if p.name and p.name != "config"}
    defaults: dict[str, Any] = {}
    for key, val in data.items():
        name = key.replace("-", "_")
        if name == "placement_nodes" and "placement_addrs" in names:
            name = "placement_addrs"
        if name not in names:
            raise click.BadParameter(f"{value}: unknown setting {key!r}", ctx=ctx, param=param)
        if isinstance(val, list):
            val = ",".join(str(v) for v in val)
        defaults[name] = val
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


@click.command(context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "VECTRON"})
@click.option("--config", type=click.Path(dir_okay=False), callback=_load_config, is_eager=True, expose_value=False,
              help="TOML file of settings (keys are flag names, e.g. rest-listen = \"127.0.0.1:8080\")")
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
@click.option("--placement", "--placement-nodes", "placement_addrs", default="", envvar="VECTRON_PLACEMENT_NODES",
              help="worker: comma list of the placement nodes' gRPC addresses")
@click.option("--worker-id", default=None, help="worker: its id (default: generated once, kept in the data dir)")
@click.option("--raft-host", default="127.0.0.1", show_default=True, help="worker: host its shard replicas' Raft ports bind on")
@click.option("--raft-ports", default="7600-7699", show_default=True, help="worker: Raft port range for its shard replicas")
@click.option("--advertise-addr", default=None, help="worker: gRPC address given to others (default: --grpc-listen)")
@click.option("--capacity", type=click.IntRange(0), default=0, show_default=True, help="worker: max shard replicas (0: no limit)")
@click.option("--node-id", default="node1", show_default=True, help="several roles: this node's name")
@click.option("--rest-listen", default="127.0.0.1:8080", show_default=True, help="gateway: REST listen address")
@click.option("--public-grpc-listen", default="127.0.0.1:9090", show_default=True, help="gateway: public gRPC listen address")
@click.option("--auth-raft", default="127.0.0.1:7100", show_default=True, help="several roles: auth Raft address")
@click.option("--auth-grpc", default="127.0.0.1:7101", show_default=True, help="several roles: auth gRPC address")
@click.option("--auth-peers", default="", help="several roles: the other auth replicas' Raft addresses")
@click.option("--placement-raft", default="127.0.0.1:7200", show_default=True, help="several roles: placement Raft address")
@click.option("--placement-grpc", default="127.0.0.1:7201", show_default=True, help="several roles: placement gRPC address")
@click.option("--placement-peers", default="", help="several roles: the other placement replicas' Raft addresses")
@click.option("--worker-grpc", default="127.0.0.1:7301", show_default=True, help="several roles: worker gRPC address")
@click.option("--auth-nodes", default="", help="gateway: auth gRPC addresses (default: this node's)")
@click.option("--default-shards", type=click.IntRange(1, 1024), default=1, show_default=True,
              help="gateway: shards of a new collection when the request does not say")
@click.option("--default-replication-factor", type=click.IntRange(1, 7), default=1, show_default=True,
              help="gateway: replication factor of a new collection when the request does not say")
@click.option("--raft-compaction-entries", type=click.IntRange(1), default=None,
              help="every Raft group (auth, placement, each shard replica): take a snapshot and compact the log "
                   "once it holds more than this many entries (default: 5000; small values force snapshot installs)")
@click.option("--admin-emails", default="", help="auth: comma list of the emails of the accounts that may administer "
              "(set plans, disable, enable, list and delete users)")
@click.option("--default-plan", type=click.Choice(["free", "pro", "unlimited"]), default="free", show_default=True,
              help="auth: the plan of a new account")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
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
    node_id: str,
    rest_listen: str,
    public_grpc_listen: str,
    auth_raft: str,
    auth_grpc: str,
    auth_peers: str,
    placement_raft: str,
    placement_grpc: str,
    placement_peers: str,
    worker_grpc: str,
    auth_nodes: str,
    default_shards: int,
    default_replication_factor: int,
    raft_compaction_entries: int | None,
    admin_emails: str,
    default_plan: str,
    log_level: str,
) -> None:
    """Run a Vectron node."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from vectron.log_limits import install_repeat_filter

    install_repeat_filter()  # a flood of one warning (bad requests, refused calls) cannot fill the disk
    roles = parse_roles(role)
    if len(roles) > 1 or roles == ["gateway"]:
        from vectron.services.runner import NodeConfig, parse_list

        try:
            from vectron.services.worker.node import parse_port_range

            ports = parse_port_range(raft_ports)
        except Exception as exc:  # noqa: BLE001 - InvalidArgument
            raise click.UsageError(getattr(exc, "message", str(exc))) from None
        _run_roles(NodeConfig(
            roles=tuple(roles), data_dir=data_dir, node_id=node_id, rest_listen=rest_listen, grpc_listen=public_grpc_listen,
            auth_raft=auth_raft, auth_grpc=auth_grpc, auth_peers=parse_list(auth_peers),
            placement_raft=placement_raft, placement_grpc=placement_grpc, placement_peers=parse_list(placement_peers),
            worker_grpc=worker_grpc, raft_host=raft_host, raft_ports=ports,
            auth_nodes=parse_list(auth_nodes), placement_nodes=parse_list(placement_addrs),
            jwt_secret_file=jwt_secret_file, cluster_password=cluster_password, bcrypt_rounds=bcrypt_rounds,
            session_ttl=session_ttl, default_shards=default_shards, default_replication_factor=default_replication_factor,
            raft_compaction_entries=raft_compaction_entries, admin_emails=parse_list(admin_emails), default_plan=default_plan,
        ))
        return
    (only_role,) = roles
    peer_list = [p.strip() for p in peers.split(",") if p.strip()]
    from vectron.services.runner import raft_options

    raft_opts = raft_options(raft_compaction_entries)
    if only_role == "placement":
        _wait_for_signal(_start_placement(data_dir, raft_addr, peer_list, grpc_listen, cluster_password, raft_opts))
        return
    if only_role == "worker":
        _wait_for_signal(
            _start_worker(
                data_dir, placement_addrs, worker_id, raft_host, raft_ports, grpc_listen, advertise_addr, capacity, cluster_password,
                raft_opts,
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
    if not cluster_password:  # a single node: generated once in its data folder (0600)
        from vectron.services.runner import local_cluster_password

        os.makedirs(auth_dir, exist_ok=True)
        cluster_password = local_cluster_password(auth_dir)
    node = serve_auth(
        data_dir=auth_dir,
        raft_address=raft_addr,
        peers=peer_list,
        grpc_listen=grpc_listen,
        jwt_secret=secret,
        cluster_password=cluster_password,
        config=AuthConfig(
            bcrypt_rounds=bcrypt_rounds, session_ttl_seconds=session_ttl,
            admin_emails=frozenset(e.strip() for e in admin_emails.split(",") if e.strip()), default_plan=default_plan,
        ),
        status_file=os.path.join(data_dir, "status.json"),
        raft_options=raft_opts,
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


def _run_roles(config: Any) -> None:
    """Several roles in this process: check, start, wait for SIGTERM/SIGINT, stop."""
    from vectron.services.runner import PreflightError, preflight, start_node, wait_ready

    try:
        preflight(config)
    except PreflightError as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        log.info("signal %d: shutting down", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        node = start_node(config)
    except PreflightError as exc:
        raise click.ClickException(str(exc)) from None
    except (OSError, ImportError) as exc:
        raise click.ClickException(f"cannot start: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a VectronError from a role's start
        raise click.ClickException(f"cannot start: {getattr(exc, 'message', exc)}") from None
    gw = node.gateway
    if gw is not None:
        if wait_ready(node, timeout=60):
            log.info("Vectron is ready: REST %s (docs %s/docs), gRPC %s", gw.url, gw.url, gw.grpc_address)
        else:
            log.warning("the gateway is up at %s but the groups are not ready yet", gw.url)
    log.info("node %s running roles %s (data in %s)", config.node_id, ",".join(config.roles), config.data_dir)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        node.stop()
    sys.stdout.flush()


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


def _start_placement(
    data_dir: str, raft_addr: str, peers: list[str], grpc_listen: str, cluster_password: str | None,
    raft_opts: dict[str, Any] | None = None,
) -> object:
    from vectron.services.placement.node import serve_placement

    if not cluster_password:
        raise click.UsageError(f"the placement group needs a cluster password: set {CLUSTER_PASSWORD_ENV}")
    node = serve_placement(
        data_dir=os.path.join(data_dir, "placement"), raft_address=raft_addr, peers=peers,
        grpc_listen=grpc_listen, cluster_password=cluster_password, raft_options=raft_opts,
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
    raft_opts: dict[str, Any] | None = None,
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
        raise click.UsageError(
            f"a worker needs the cluster password its shard groups share: set {CLUSTER_PASSWORD_ENV}"
        )
    node = serve_worker(
        data_dir=os.path.join(data_dir, "worker"), placement=placement, raft_host=raft_host, raft_ports=ports,
        grpc_listen=grpc_listen, advertise_address=advertise_addr, worker_id=worker_id, capacity=capacity,
        cluster_password=cluster_password, raft_options=raft_opts,
    )
    log.info("worker %s serving gRPC on %s (placement: %s)", node.worker_id, node.grpc_address, ", ".join(placement))
    return node


if __name__ == "__main__":
    main()
