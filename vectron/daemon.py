"""`vectrond`: the Vectron server daemon.

    vectrond --role auth --data-dir ./auth1 --auth-raft 127.0.0.1:7401 \\
             --auth-peers 127.0.0.1:7402,127.0.0.1:7403 --auth-grpc 127.0.0.1:7501 \\
             --jwt-secret-file ./jwt.secret          # VECTRON_CLUSTER_PASSWORD in the env

    vectrond --role placement --data-dir ./pd1 --placement-raft 127.0.0.1:7301 \\
             --placement-peers 127.0.0.1:7302,127.0.0.1:7303 --placement-grpc 127.0.0.1:7311
    vectrond --role worker --data-dir ./w1 --placement-nodes 127.0.0.1:7311,127.0.0.1:7312,127.0.0.1:7313 \\
             --worker-grpc 127.0.0.1:7701 --raft-host 127.0.0.1 --raft-ports 7600-7699

    vectrond --role all                 # one node, every role: REST 127.0.0.1:8080, gRPC 127.0.0.1:9090
    vectrond --role all --config node1.toml   # or flags, or VECTRON_* environment variables

One role (auth, placement, worker) runs as above; several roles (any comma list,
``all``, or ``gateway``) run through :mod:`vectron.services.runner`. Settings come
from flags, then ``VECTRON_<FLAG>`` environment variables (``VECTRON_REST_LISTEN``),
then the TOML file given with ``--config`` (keys are flag names), then defaults.

One vocabulary for addresses, whatever the roles: ``--<group>-raft``,
``--<group>-grpc``, ``--<group>-peers`` for the auth and placement groups,
``--worker-grpc``, ``--rest-listen`` and ``--public-grpc-listen`` for the
gateway, ``--auth-nodes``/``--placement-nodes`` for where the groups are. The
older single-role names ``--raft-addr``, ``--peers``, ``--grpc-listen`` (and
``--placement``) still work, hidden, for the one role they meant.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import tomllib
from collections.abc import Callable
from typing import Any

import click

__all__ = ["main", "ROLES"]

log = logging.getLogger("vectrond")

ROLES = ("gateway", "auth", "placement", "worker")
CLUSTER_PASSWORD_ENV = "VECTRON_CLUSTER_PASSWORD"
#: after SIGTERM/SIGINT the process exits within this many seconds, stopped cleanly or not
STOP_DEADLINE = 4.0


def parse_roles(value: str) -> list[str]:
    roles = [r.strip().lower() for r in value.split(",") if r.strip()]
    if roles == ["all"]:
        roles = list(ROLES)
    if not roles:
        raise click.BadParameter("give at least one role", param_hint="--role")
    for role in roles:
        if role not in ROLES:
            raise click.BadParameter(f"unknown role {role!r}; roles: {', '.join(ROLES)} or all", param_hint="--role")
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
@click.option("--raft-addr", default=None, hidden=True, help="old name of --auth-raft / --placement-raft (one role)")
@click.option("--peers", default=None, hidden=True, help="old name of --auth-peers / --placement-peers (one role)")
@click.option("--grpc-listen", default=None, hidden=True, help="old name of --auth-grpc / --placement-grpc / --worker-grpc (one role)")
@click.option("--jwt-secret-file", type=click.Path(dir_okay=False), default=None,
              help="file holding the session signing secret (else $VECTRON_AUTH_JWT_SECRET; a single node "
                   "without either generates one in its data dir)")
@click.option("--cluster-password", envvar=CLUSTER_PASSWORD_ENV, default=None,
              help=f"Raft cluster password (prefer the env var {CLUSTER_PASSWORD_ENV}: flags show in ps)")
@click.option("--bcrypt-rounds", type=click.IntRange(4, 16), default=12, show_default=True)
@click.option("--session-ttl", type=click.IntRange(60, 30 * 86400), default=3600, show_default=True,
              help="session token lifetime, seconds")
@click.option("--placement-nodes", "--placement", "placement_addrs", default="", envvar="VECTRON_PLACEMENT_NODES",
              help="gateway, worker: comma list of the placement nodes' gRPC addresses (default: this node's)")
@click.option("--worker-id", default=None, help="worker: its id (default: generated once, kept in the data dir)")
@click.option("--raft-host", default="127.0.0.1", show_default=True, help="worker: host its shard replicas' Raft ports bind on")
@click.option("--raft-ports", default="7600-7699", show_default=True, help="worker: Raft port range for its shard replicas (one port each: the range caps how many replicas the worker hosts; past it, creating a collection answers 507 insufficient_capacity)")
@click.option("--advertise-addr", default=None, help="worker: gRPC address given to others (default: --worker-grpc)")
@click.option("--capacity", type=click.IntRange(0), default=0, show_default=True, help="worker: max shard replicas (0: no limit)")
@click.option("--node-id", default="node1", show_default=True, help="this node's name")
@click.option("--rest-listen", default="127.0.0.1:8080", show_default=True, help="gateway: REST listen address")
@click.option("--public-grpc-listen", default="127.0.0.1:9090", show_default=True, help="gateway: public gRPC listen address")
@click.option("--auth-raft", default="127.0.0.1:7100", show_default=True, help="auth: this replica's Raft address (what peers dial)")
@click.option("--auth-grpc", default="127.0.0.1:7101", show_default=True, help="auth: internal gRPC listen address")
@click.option("--auth-peers", default="", help="auth: the other auth replicas' Raft addresses (empty: a single replica)")
@click.option("--placement-raft", default="127.0.0.1:7200", show_default=True, help="placement: this replica's Raft address")
@click.option("--placement-grpc", default="127.0.0.1:7201", show_default=True, help="placement: internal gRPC listen address")
@click.option("--placement-peers", default="", help="placement: the other placement replicas' Raft addresses")
@click.option("--worker-grpc", default="127.0.0.1:7301", show_default=True, help="worker: internal gRPC listen address")
@click.option("--auth-nodes", default="", help="gateway: auth gRPC addresses (default: this node's)")
@click.option("--default-shards", type=click.IntRange(1, 1024), default=1, show_default=True,
              help="gateway: shards of a new collection when the request does not say")
@click.option("--default-replication-factor", type=click.IntRange(1, 7), default=1, show_default=True,
              help="gateway: replication factor of a new collection when the request does not say")
@click.option("--raft-compaction-entries", type=click.IntRange(1), default=None,
              help="every Raft group (auth, placement, each shard replica): take a snapshot and compact the log "
                   "once it holds more than this many entries (default: 5000; small values force snapshot installs)")
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True), default=None,
              help="PEM certificate: REST, public gRPC and internal gRPC serve TLS with it (needs --tls-key)")
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True), default=None, help="PEM private key of --tls-cert")
@click.option("--tls-ca", type=click.Path(dir_okay=False, exists=True), default=None,
              help="PEM CA of the cluster: internal gRPC becomes mutual TLS (peers must show a certificate it signed)")
@click.option("--dead-worker-timeout", type=click.FloatRange(0.5), default=300.0, show_default=True,
              help="placement: declare a worker dead after this many seconds without a heartbeat and "
                   "re-create its shard replicas on other workers")
@click.option("--admin-emails", default="", help="auth: comma list of the emails of the accounts that may administer "
              "(set plans, disable, enable, list and delete users)")
@click.option("--default-plan", type=click.Choice(["free", "pro", "unlimited"]), default="free", show_default=True,
              help="auth: the plan of a new account")
@click.option("--auth-throttle-factor", type=click.FloatRange(min=1.0), default=1.0, show_default=True,
              help="auth: multiply the login-failure and registration budgets per client address (a load "
                   "generator or test harness behind one address; see docs/abuse-limits.md)")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
def main(
    role: str,
    data_dir: str,
    raft_addr: str | None,
    peers: str | None,
    grpc_listen: str | None,
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
    tls_cert: str | None,
    tls_key: str | None,
    tls_ca: str | None,
    dead_worker_timeout: float,
    admin_emails: str,
    default_plan: str,
    auth_throttle_factor: float,
    log_level: str,
) -> None:
    """Run a Vectron node."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from vectron.log_limits import install_repeat_filter

    install_repeat_filter()  # a flood of one warning (bad requests, refused calls) cannot fill the disk
    roles = parse_roles(role)
    _secure_process(data_dir, tls_cert, tls_key, tls_ca)
    old_names = [f for f, v in (("--raft-addr", raft_addr), ("--peers", peers), ("--grpc-listen", grpc_listen)) if v is not None]
    if old_names and (len(roles) > 1 or roles == ["gateway"]):
        raise click.UsageError(f"{', '.join(old_names)}: give the role's own flags (--auth-raft, --placement-grpc, ...)")
    if roles == ["auth"]:
        auth_raft, auth_peers, auth_grpc = raft_addr or auth_raft, peers or auth_peers, grpc_listen or auth_grpc
    elif roles == ["placement"]:
        placement_raft, placement_peers = raft_addr or placement_raft, peers or placement_peers
        placement_grpc = grpc_listen or placement_grpc
    elif roles == ["worker"]:
        worker_grpc = grpc_listen or worker_grpc
    if len(roles) > 1 or roles == ["gateway"]:
        from vectron.services.runner import NodeConfig, parse_list

        try:
            from vectron.services.worker.node import parse_port_range

            ports = parse_port_range(raft_ports)
        except Exception as exc:
            raise click.UsageError(getattr(exc, "message", str(exc))) from None
        _run_roles(NodeConfig(
            roles=tuple(roles), data_dir=data_dir, node_id=node_id, rest_listen=rest_listen, grpc_listen=public_grpc_listen,
            auth_raft=auth_raft, auth_grpc=auth_grpc, auth_peers=parse_list(auth_peers),
            placement_raft=placement_raft, placement_grpc=placement_grpc, placement_peers=parse_list(placement_peers),
            worker_grpc=worker_grpc, raft_host=raft_host, raft_ports=ports,
            auth_nodes=parse_list(auth_nodes), placement_nodes=parse_list(placement_addrs),
            jwt_secret_file=jwt_secret_file, cluster_password=cluster_password, bcrypt_rounds=bcrypt_rounds,
            session_ttl=session_ttl, default_shards=default_shards, default_replication_factor=default_replication_factor,
            raft_compaction_entries=raft_compaction_entries, dead_worker_timeout=dead_worker_timeout,
            admin_emails=parse_list(admin_emails), default_plan=default_plan, auth_throttle_factor=auth_throttle_factor,
        ))
        return
    (only_role,) = roles
    from vectron.services.runner import parse_list, raft_options

    raft_opts = raft_options(raft_compaction_entries)
    if only_role == "placement":
        _serve(lambda: _start_placement(
            data_dir, placement_raft, list(parse_list(placement_peers)), placement_grpc, cluster_password, node_id, raft_opts,
            dead_worker_timeout,
        ))
        return
    if only_role == "worker":
        _serve(
            lambda: _start_worker(
                data_dir, placement_addrs, worker_id, raft_host, raft_ports, worker_grpc, advertise_addr, capacity, cluster_password,
                raft_opts,
            )
        )
        return
    peer_list = list(parse_list(auth_peers))
    from vectron.errors import VectronError
    from vectron.services.auth.node import serve_auth
    from vectron.services.auth.service import AuthConfig
    from vectron.services.auth.sessions import load_secret
    from vectron.services.auth.throttle import GuardLimits
    from vectron.services.internal_auth import export_credential

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
    export_credential(cluster_password, node_id)
    def start() -> Any:
        node = serve_auth(
            data_dir=auth_dir,
            raft_address=auth_raft,
            peers=peer_list,
            grpc_listen=auth_grpc,
            jwt_secret=secret,
            cluster_password=cluster_password,
            config=AuthConfig(
                bcrypt_rounds=bcrypt_rounds, session_ttl_seconds=session_ttl,
                admin_emails=frozenset(e.strip() for e in admin_emails.split(",") if e.strip()), default_plan=default_plan,
                guard=GuardLimits().scaled(auth_throttle_factor),
            ),
            status_file=os.path.join(data_dir, "status.json"),
            raft_options=raft_opts,
        )
        log.info("auth node %s serving gRPC on %s (peers: %s)", auth_raft, node.grpc.address, ", ".join(peer_list) or "none")
        return node

    _serve(start)


def _secure_process(data_dir: str, tls_cert: str | None, tls_key: str | None, tls_ca: str | None) -> None:
    """Umask 077 and a private data folder; the TLS files every server and channel of
    this process use."""
    from vectron.services.privacy import make_private
    from vectron.services.tls import TlsFiles, export_tls

    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if tls_ca and not tls_cert:
        raise click.UsageError("--tls-ca needs --tls-cert and --tls-key (this node's own certificate)")
    try:
        make_private(data_dir)
    except OSError as exc:
        raise click.UsageError(f"cannot prepare the data folder {data_dir}: {exc}") from None
    if tls_cert and tls_key:
        export_tls(TlsFiles(os.path.abspath(tls_cert), os.path.abspath(tls_key), os.path.abspath(tls_ca) if tls_ca else None))


def _run_roles(config: Any) -> None:
    """Several roles in this process: check, start, wait for SIGTERM/SIGINT, stop."""
    from vectron.services.runner import PreflightError, preflight, start_node, wait_ready

    try:
        preflight(config)
    except PreflightError as exc:
        raise click.ClickException(str(exc)) from None

    def start() -> Any:
        try:
            return start_node(config)
        except PreflightError as exc:
            raise click.ClickException(str(exc)) from None
        except (OSError, ImportError) as exc:
            raise click.ClickException(f"cannot start: {exc}") from None
        except Exception as exc:
            raise click.ClickException(f"cannot start: {getattr(exc, 'message', exc)}") from None

    def started(node: Any, stop: threading.Event) -> None:
        gw = node.gateway
        if gw is not None:
            if wait_ready(node, timeout=60, stop=stop):
                log.info("Vectron is ready: REST %s (docs %s/docs), gRPC %s", gw.url, gw.url, gw.grpc_address)
            elif not stop.is_set():
                log.warning("the gateway is up at %s but the groups are not ready yet", gw.url)
        log.info("node %s running roles %s (data in %s)", config.node_id, ",".join(config.roles), config.data_dir)

    _serve(start, started)
    sys.stdout.flush()


class _StopSignal(threading.Event):
    """Set by the first SIGTERM or SIGINT; :meth:`remaining` is the time left of the
    STOP_DEADLINE seconds that follow it."""

    def __init__(self) -> None:
        super().__init__()
        self._deadline = 0.0

    def install(self) -> _StopSignal:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        return self

    def _on_signal(self, signum: int, frame: object) -> None:
        if not self.is_set():
            log.info("signal %d: shutting down", signum)
            self._deadline = time.monotonic() + STOP_DEADLINE
            self.set()

    def remaining(self) -> float:
        return max(0.0, self._deadline - time.monotonic())


def _serve(start: Callable[[], Any], started: Callable[[Any, threading.Event], None] | None = None) -> None:
    """Run ``start()`` (it returns a node with ``stop()``), then ``started(node, stop)``, until
    SIGTERM/SIGINT; then stop the node. Starting runs on a helper thread so that the
    main thread is always free to take a signal (a replica may be rebuilding its index).
    The process exits within STOP_DEADLINE seconds of the signal whatever it was doing:
    a stop that takes longer (or a start still under way) is abandoned, which is safe
    (every write is durable before it is acknowledged; an index not saved is rebuilt
    at the next start)."""
    stop = _StopSignal().install()
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["node"] = start()
        except BaseException as exc:
            result["error"] = exc

    starter = threading.Thread(target=run, name="start", daemon=True)
    starter.start()
    while starter.is_alive() and not stop.wait(0.2):
        pass
    starter.join(stop.remaining() if stop.is_set() else None)
    if starter.is_alive():
        _exit_now("a stop signal came while the node was starting and it did not finish starting in time")
    if "error" in result:
        if stop.is_set():  # a start cut short by the stop is not an error
            log.info("start abandoned: %s", result["error"])
            return
        raise result["error"]
    node = result["node"]
    if started is not None and not stop.is_set():
        started(node, stop)
    while not stop.wait(1.0):
        pass
    stopper = threading.Thread(target=node.stop, name="stop", daemon=True)
    stopper.start()
    stopper.join(stop.remaining())
    if stopper.is_alive():
        _exit_now(f"the clean stop did not finish within {STOP_DEADLINE:.0f}s")


def _exit_now(why: str) -> None:
    log.warning("%s: exiting now (the data on disk is safe; an index not saved is rebuilt at the next start)", why)
    logging.shutdown()
    os._exit(0)


def _start_placement(
    data_dir: str, raft_addr: str, peers: list[str], grpc_listen: str, cluster_password: str | None, node_id: str,
    raft_opts: dict[str, Any] | None = None, dead_worker_timeout: float = 300.0,
) -> object:
    from vectron.services.placement.node import serve_placement
    from vectron.services.placement.service import PlacementConfig

    if not cluster_password:
        raise click.UsageError(f"the placement group needs a cluster password: set {CLUSTER_PASSWORD_ENV}")
    from vectron.services.internal_auth import export_credential

    export_credential(cluster_password, node_id)
    node = serve_placement(
        data_dir=os.path.join(data_dir, "placement"), raft_address=raft_addr, peers=peers,
        grpc_listen=grpc_listen, cluster_password=cluster_password, raft_options=raft_opts,
        config=PlacementConfig(dead_worker_timeout=dead_worker_timeout),
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
        raise click.UsageError("a worker needs --placement-nodes: the placement nodes' gRPC addresses")
    try:
        ports = parse_port_range(raft_ports)
    except VectronError as exc:
        raise click.UsageError(exc.message) from None
    if not cluster_password:
        raise click.UsageError(
            f"a worker needs the cluster password its shard groups share: set {CLUSTER_PASSWORD_ENV}"
        )
    from vectron.services.internal_auth import export_credential
    from vectron.services.worker.node import worker_id_for

    worker_id = worker_id_for(os.path.join(data_dir, "worker"), worker_id)
    export_credential(cluster_password, worker_id)  # placement lets only this identity re-register the worker
    node = serve_worker(
        data_dir=os.path.join(data_dir, "worker"), placement=placement, raft_host=raft_host, raft_ports=ports,
        grpc_listen=grpc_listen, advertise_address=advertise_addr, worker_id=worker_id, capacity=capacity,
        cluster_password=cluster_password, raft_options=raft_opts,
    )
    log.info("worker %s serving gRPC on %s (placement: %s)", node.worker_id, node.grpc_address, ", ".join(placement))
    return node


if __name__ == "__main__":
    main()
