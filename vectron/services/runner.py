"""Running several roles of Vectron in one process: what ``vectrond --role all`` (or any
comma list of roles) does.

:func:`preflight` checks everything that can be checked before anything starts
(the data folder is usable, every listen address is free, the configuration is
consistent) and raises :class:`PreflightError` with a clear message otherwise.
:func:`start_node` then starts the roles in dependency order (auth, placement,
worker, gateway) and returns a :class:`RunningNode` whose ``stop()`` stops them in
reverse order. While it runs, the node writes ``<data-dir>/status.json`` every
second: the Raft status of every group replica it hosts (auth, placement, shard
replicas), which ``vectron cluster status`` reads.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["NodeConfig", "RunningNode", "PreflightError", "preflight", "start_node", "raft_options", "ROLES"]

log = logging.getLogger(__name__)

ROLES = ("gateway", "auth", "placement", "worker")


class PreflightError(Exception):
    """The node cannot start: bad configuration, a port in use, an unusable data folder."""


@dataclass(frozen=True)
class NodeConfig:
    """Everything one node needs. Addresses are ``host:port``."""

    roles: tuple[str, ...] = ROLES
    data_dir: str = "./vectron-data"
    node_id: str = "node1"
    # the gateway (public)
    rest_listen: str = "127.0.0.1:8080"
    grpc_listen: str = "127.0.0.1:9090"
    # the auth group
    auth_raft: str = "127.0.0.1:7100"
    auth_grpc: str = "127.0.0.1:7101"
    auth_peers: tuple[str, ...] = ()       # Raft addresses of the other auth replicas
    # the placement group
    placement_raft: str = "127.0.0.1:7200"
    placement_grpc: str = "127.0.0.1:7201"
    placement_peers: tuple[str, ...] = ()
    # the worker
    worker_grpc: str = "127.0.0.1:7301"
    raft_host: str = "127.0.0.1"
    raft_ports: tuple[int, int] = (7600, 7699)
    # where the gateway and the worker find the groups (default: this node's own)
    auth_nodes: tuple[str, ...] = ()
    placement_nodes: tuple[str, ...] = ()
    # secrets and settings
    jwt_secret_file: str | None = None
    cluster_password: str | None = None
    bcrypt_rounds: int = 12
    session_ttl: int = 3600
    default_shards: int = 1
    default_replication_factor: int = 1
    #: every Raft group's log compaction threshold (entries); None: RaftConfig's default
    raft_compaction_entries: int | None = None
    #: the placement leader declares a worker dead after this long without a heartbeat (seconds)
    dead_worker_timeout: float = 300.0
    #: auth: the emails of the admins, and the plan of a new account
    admin_emails: tuple[str, ...] = ()
    default_plan: str = "free"
    #: auth: login-failure and registration budgets per client address, times this
    auth_throttle_factor: float = 1.0

    def raft_options(self) -> dict[str, Any]:
        return raft_options(self.raft_compaction_entries)

    def listen_addresses(self) -> list[tuple[str, str]]:
        """(what, address) of every socket this node will listen on."""
        out: list[tuple[str, str]] = []
        if "gateway" in self.roles:
            out += [("REST", self.rest_listen), ("gateway gRPC", self.grpc_listen)]
        if "auth" in self.roles:
            out += [("auth Raft", self.auth_raft), ("auth gRPC", self.auth_grpc)]
        if "placement" in self.roles:
            out += [("placement Raft", self.placement_raft), ("placement gRPC", self.placement_grpc)]
        if "worker" in self.roles:
            out += [("worker gRPC", self.worker_grpc)]
        return out

    def self_contained(self) -> bool:
        """A single node whose gateway and worker talk only to its own groups: the one
        case where the cluster password may be generated in the data folder."""
        return not (self.auth_peers or self.placement_peers or self.auth_nodes or self.placement_nodes)

    def worker_id(self) -> str:
        return f"{self.node_id}-worker"

    def auth_addresses(self) -> list[str]:
        return list(self.auth_nodes) or ([self.auth_grpc] if "auth" in self.roles else [])

    def placement_addresses(self) -> list[str]:
        return list(self.placement_nodes) or ([self.placement_grpc] if "placement" in self.roles else [])


def _port_free(address: str) -> bool:
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, int(port)))
        except OSError:
            return False
    return True


def preflight(config: NodeConfig) -> None:
    """Check the configuration, the data folder and the ports; PreflightError otherwise."""
    unknown = [r for r in config.roles if r not in ROLES]
    if unknown or not config.roles:
        raise PreflightError(f"unknown role(s) {unknown}; roles: {', '.join(ROLES)} or all")
    seen: dict[str, str] = {}
    for what, address in config.listen_addresses():
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise PreflightError(f"{what} address {address!r} is not host:port")
        if address in seen and not address.endswith(":0"):
            raise PreflightError(f"{what} and {seen[address]} both want {address}")
        seen[address] = what
    if "gateway" in config.roles and not config.auth_addresses():
        raise PreflightError("a gateway without the auth role needs the auth nodes' gRPC addresses (--auth-nodes)")
    if {"gateway", "worker"} & set(config.roles) and not config.placement_addresses():
        raise PreflightError("a gateway or worker without the placement role needs --placement-nodes")
    if not config.cluster_password and not config.self_contained():
        raise PreflightError(
            "a node of a multi-node cluster needs the cluster password (it authenticates Raft and every internal "
            "call): set VECTRON_CLUSTER_PASSWORD"
        )
    if config.auth_peers and "auth" in config.roles and not (config.jwt_secret_file or os.environ.get("VECTRON_AUTH_JWT_SECRET")):
        raise PreflightError("a multi-node auth group needs the same JWT secret on every node: --jwt-secret-file")
    if config.jwt_secret_file and not os.access(config.jwt_secret_file, os.R_OK):
        raise PreflightError(f"cannot read the JWT secret file {config.jwt_secret_file}")
    lo, hi = config.raft_ports
    if not 1 <= lo <= hi <= 65535:
        raise PreflightError(f"raft port range {lo}-{hi} is outside 1-65535 or reversed")
    # the data folder: creatable, writable
    try:
        os.makedirs(config.data_dir, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=config.data_dir, prefix=".probe-"):
            pass
    except OSError as exc:
        raise PreflightError(f"the data folder {config.data_dir} is not usable: {exc.strerror or exc}") from None
    for what, address in config.listen_addresses():
        if not address.endswith(":0") and not _port_free(address):
            raise PreflightError(f"{what} port {address} is already in use")


@dataclass
class RunningNode:
    config: NodeConfig
    parts: dict[str, Any] = field(default_factory=dict)
    _stop_status: threading.Event = field(default_factory=threading.Event, repr=False)
    _status_thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def gateway(self) -> Any:
        return self.parts.get("gateway")

    def status(self) -> dict[str, Any]:
        """This node's group replicas: role, leader, term, commit and applied index."""
        groups: list[dict[str, Any]] = []
        for name in ("auth", "placement"):
            part = self.parts.get(name)
            if part is None:
                continue
            try:
                st = dict(part.group.status())
            except Exception as exc:
                st = {"error": str(exc)}
            groups.append({"group": name, **{k: v for k, v in st.items() if isinstance(v, (str, int, float, bool, type(None)))}})
            if name == "placement":  # what the re-replication scheduler could not heal (on its leader)
                groups[-1]["degraded_shards"] = [f"{cid}/{shard}" for cid, shard in part.healer.degraded()]
        worker = self.parts.get("worker")
        if worker is not None:
            collections = {r.key: r.collection for r in worker.service.host.replicas()}
            for s in worker.service.shard_status():
                info = collections.get((s.collection_id, s.shard_id))
                groups.append({
                    "group": f"shard {s.collection_id[:8]}/{s.shard_id}", "self": s.raft_address, "role": s.role,
                    "leader": s.leader, "term": s.term, "commit_index": s.commit_index, "applied_index": s.applied_index,
                    "point_count": s.point_count, "collection_id": s.collection_id, "shard": s.shard_id,
                    "members": list(s.replicas), "collection": info.name if info else "", "owner": info.owner if info else "",
                    "replication_factor": info.replication_factor if info else len(s.replicas),
                })
        out: dict[str, Any] = {"node": self.config.node_id, "pid": os.getpid(), "at": time.time(), "groups": groups}
        gw = self.parts.get("gateway")
        if gw is not None:
            out["rest"] = gw.url
            out["grpc"] = gw.grpc_address
        return out

    def _write_status(self) -> None:
        path = os.path.join(self.config.data_dir, "status.json")
        while not self._stop_status.wait(1.0):
            try:
                tmp = path + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(self.status(), f)
                os.replace(tmp, path)
            except Exception:
                log.debug("status write failed", exc_info=True)

    def stop(self) -> None:
        self._stop_status.set()
        if self._status_thread is not None:
            self._status_thread.join(timeout=5)
        for name in ("gateway", "worker", "placement", "auth"):
            part = self.parts.pop(name, None)
            if part is not None:
                try:
                    part.stop()
                except Exception:
                    log.exception("stopping %s failed", name)
        log.info("node %s stopped", self.config.node_id)


def raft_options(compaction_entries: int | None) -> dict[str, Any]:
    """RaftConfig overrides for every group of a node: ``log_compaction_min_entries``
    when a compaction threshold is set. (pysyncobj compacts when the log holds more
    than that many entries *or* ``log_compaction_min_time`` has passed since the
    last snapshot, so the entry count alone is enough to force snapshots.)"""
    if compaction_entries is None:
        return {}
    if compaction_entries < 1:
        raise PreflightError(f"the Raft compaction threshold must be at least 1 entry, not {compaction_entries}")
    return {"log_compaction_min_entries": int(compaction_entries)}


def local_cluster_password(data_dir: str) -> str:
    """A single node's Raft password: generated once in ``<data_dir>/cluster-password`` (0600).
    (Raft traffic is authenticated even on one node; its ports only listen on loopback by default.)"""
    import secrets

    path = os.path.join(data_dir, "cluster-password")
    try:
        with open(path) as f:
            value = f.read().strip()
        if value:
            return value
    except FileNotFoundError:
        pass
    value = secrets.token_hex(16)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def start_node(config: NodeConfig) -> RunningNode:
    """Start the configured roles (run :func:`preflight` first). On a failure, what was
    started is stopped again and the error raised."""
    if not config.cluster_password and config.self_contained():
        from dataclasses import replace

        config = replace(config, cluster_password=local_cluster_password(config.data_dir))
    if config.cluster_password:  # every internal channel this process opens carries its token
        from vectron.services.internal_auth import export_credential

        export_credential(config.cluster_password, config.worker_id() if "worker" in config.roles else config.node_id)
    node = RunningNode(config)
    d = config.data_dir
    try:
        if "auth" in config.roles:
            from vectron.errors import VectronError
            from vectron.services.auth.node import serve_auth
            from vectron.services.auth.service import AuthConfig
            from vectron.services.auth.sessions import load_secret
            from vectron.services.auth.throttle import GuardLimits

            auth_dir = os.path.join(d, "auth")
            try:
                secret = load_secret(secret_file=config.jwt_secret_file, data_dir=auth_dir, allow_generate=not config.auth_peers)
            except VectronError as exc:
                raise PreflightError(exc.message) from None
            node.parts["auth"] = serve_auth(
                data_dir=auth_dir, raft_address=config.auth_raft, peers=list(config.auth_peers),
                grpc_listen=config.auth_grpc, jwt_secret=secret, cluster_password=config.cluster_password,
                config=AuthConfig(
                    bcrypt_rounds=config.bcrypt_rounds, session_ttl_seconds=config.session_ttl,
                    admin_emails=frozenset(config.admin_emails), default_plan=config.default_plan,
                    guard=GuardLimits().scaled(config.auth_throttle_factor),
                ),
                raft_options=config.raft_options(),
            )
        if "placement" in config.roles:
            from vectron.services.placement.node import serve_placement
            from vectron.services.placement.service import PlacementConfig

            node.parts["placement"] = serve_placement(
                data_dir=os.path.join(d, "placement"), raft_address=config.placement_raft,
                peers=list(config.placement_peers), grpc_listen=config.placement_grpc,
                cluster_password=config.cluster_password, raft_options=config.raft_options(),
                config=PlacementConfig(dead_worker_timeout=config.dead_worker_timeout),
            )
        if "worker" in config.roles:
            from vectron.services.worker.node import serve_worker

            node.parts["worker"] = serve_worker(
                data_dir=os.path.join(d, "worker"), placement=config.placement_addresses(), raft_host=config.raft_host,
                raft_ports=config.raft_ports, grpc_listen=config.worker_grpc, worker_id=config.worker_id(),
                cluster_password=config.cluster_password, raft_options=config.raft_options(),
            )
        if "gateway" in config.roles:
            from vectron.services.gateway.api import GatewayConfig
            from vectron.services.gateway.node import serve_gateway

            node.parts["gateway"] = serve_gateway(
                auth_addresses=config.auth_addresses(), placement_addresses=config.placement_addresses(),
                rest_listen=config.rest_listen, grpc_listen=config.grpc_listen, snapshot_dir=os.path.join(d, "snapshots"),
                config=GatewayConfig(
                    default_shards=config.default_shards, default_replication_factor=config.default_replication_factor,
                    dead_worker_after=config.dead_worker_timeout,  # /readyz ignores the workers placement calls dead
                ),
            )
        if "gateway" in node.parts:
            from vectron.services.node_metrics import NodeCollector

            node.parts["gateway"].metrics.register(NodeCollector(lambda: node.parts))
        if "gateway" in node.parts and "worker" in node.parts:
            # the co-located worker is called in-process (no serialization, no HTTP/2)
            worker = node.parts["worker"]
            node.parts["gateway"].gateway.workers.register_local(worker.grpc_address, worker.service)
            # not ready while a shard replica of this node has no leader (a search there would wait)
            node.parts["gateway"].gateway.extra_ready_checks["local_shards"] = lambda: all(
                s.leader for s in worker.service.shard_status()
            )
    except BaseException:
        node.stop()
        raise
    node._status_thread = threading.Thread(target=node._write_status, name="status", daemon=True)
    node._status_thread.start()
    return node


def wait_ready(node: RunningNode, timeout: float = 60.0, stop: threading.Event | None = None) -> bool:
    """Wait until the node's gateway (if any) is ready; False on timeout (or once ``stop`` is set)."""
    gw = node.gateway
    if gw is None:
        return True
    deadline = time.monotonic() + timeout
    stop = stop or threading.Event()
    while time.monotonic() < deadline and not stop.is_set():
        if gw.gateway.readiness().status == "ready":
            return True
        stop.wait(0.25)
    return False


def parse_list(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    return tuple(v.strip() for v in value if v and v.strip())
