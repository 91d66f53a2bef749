"""The ``vectrond --role all`` nodes of a run, started with the flags
``vectron cluster up`` uses (see vectron/cluster.py), each in its own network
namespace at its own address (or, without namespaces, on loopback with its own
ports). Every node hosts a replica of the auth and placement groups; new
collections get min(N, 3) replicas.

The harness kills (SIGKILL), pauses (SIGSTOP/SIGCONT) and restarts nodes by
pid; ``ip netns exec`` execs the daemon, so the pid is the daemon's own."""

from __future__ import annotations

import json
import logging
import os
import pathlib
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from jepsen_like.net import Network

__all__ = ["NodeSpec", "Nodes", "free_loopback_base", "node_specs"]

log = logging.getLogger("jepsen_like.nodes")

CLOCKSHIM = pathlib.Path(__file__).resolve().parent / "clockshim"


@dataclass
class NodeSpec:
    index: int
    name: str
    host: str
    base: int  # REST at base, then gRPC, auth raft/grpc, placement raft/grpc, worker grpc, raft ports base+100..+163

    def addr(self, offset: int) -> str:
        return f"{self.host}:{self.base + offset}"

    @property
    def rest(self) -> str:
        return self.addr(0)

    @property
    def auth_raft(self) -> str:
        return self.addr(2)

    @property
    def placement_raft(self) -> str:
        return self.addr(4)

    @property
    def url(self) -> str:
        return f"http://{self.rest}"

    def raft_addresses(self) -> set[str]:
        return {self.addr(2), self.addr(4)} | {f"{self.host}:{p}" for p in range(self.base + 100, self.base + 164)}


def node_specs(n: int, hosts: list[str] | None, loopback_base: int) -> list[NodeSpec]:
    """In namespaces every node uses the same ports on its own address; on loopback
    each node gets its own block of 200 ports."""
    if hosts:
        return [NodeSpec(i, f"n{i + 1}", hosts[i], 18000) for i in range(n)]
    return [NodeSpec(i, f"n{i + 1}", "127.0.0.1", loopback_base + 200 * i) for i in range(n)]


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_loopback_base(n: int) -> int:
    """A base port whose blocks (REST..worker, Raft ports) are free for ``n`` loopback nodes."""
    for _ in range(100):
        base = 20000 + secrets.randbelow(200) * 100
        ports = [base + 200 * i + off for i in range(n) for off in [*range(7), *range(100, 164)]]
        if all(_bindable(p) for p in ports):
            return base
    raise RuntimeError("no free block of loopback ports found")


@dataclass
class Nodes:
    specs: list[NodeSpec]
    data_dir: pathlib.Path
    network: Network | None
    replicas: int
    extra_args: list[str] = field(default_factory=list)
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    paused: set[int] = field(default_factory=set)
    password: str = field(default_factory=lambda: secrets.token_hex(16))
    skewable: bool = False  # start nodes with clockshim/ (the clock nemesis: set_clock_offset)

    def _args(self, s: NodeSpec) -> list[str]:
        others = [o for o in self.specs if o is not s]
        return [
            sys.executable, "-m", "vectron.daemon", "--role", "all", "--node-id", s.name,
            "--data-dir", str(self.state_dir(s.index)), "--log-level", "INFO",
            "--rest-listen", s.addr(0), "--public-grpc-listen", s.addr(1),
            "--auth-raft", s.addr(2), "--auth-grpc", s.addr(3), "--auth-peers", ",".join(o.addr(2) for o in others),
            "--placement-raft", s.addr(4), "--placement-grpc", s.addr(5),
            "--placement-peers", ",".join(o.addr(4) for o in others),
            "--worker-grpc", s.addr(6), "--raft-host", s.host, "--raft-ports", f"{s.base + 100}-{s.base + 163}",
            "--auth-nodes", ",".join(o.addr(3) for o in self.specs),
            "--placement-nodes", ",".join(o.addr(5) for o in self.specs),
            "--jwt-secret-file", str(self.data_dir / "jwt.secret"),
            "--default-shards", str(self.replicas), "--default-replication-factor", str(self.replicas),
            "--bcrypt-rounds", "4", "--default-plan", "unlimited",
            "--auth-throttle-factor", "1000",  # the clients (every registration race, every login) share one address
            *self.extra_args,
        ]

    def state_dir(self, i: int) -> pathlib.Path:
        """The node's ``--data-dir`` (its own filesystem under the disk-full nemesis); the log is one level up."""
        return self.data_dir / self.specs[i].name / "db"

    def log_path(self, i: int) -> pathlib.Path:
        return self.data_dir / self.specs[i].name / "vectrond.log"

    def start(self, i: int) -> None:
        s = self.specs[i]
        self.state_dir(i).mkdir(parents=True, exist_ok=True)
        secret = self.data_dir / "jwt.secret"
        if not secret.exists():
            fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
        prefix = self.network.exec_prefix(i) if self.network else []
        env = {**os.environ, "VECTRON_CLUSTER_PASSWORD": self.password}
        env.pop("VECTRON_CONFIG", None)
        if self.skewable:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CLOCKSHIM), env.get("PYTHONPATH")]))
            env["JEPSEN_CLOCK_OFFSET_FILE"] = str(self.clock_offset_file(i))
        with open(self.log_path(i), "ab") as logf:
            self.procs[i] = subprocess.Popen([*prefix, *self._args(s)], stdout=logf, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self.paused.discard(i)
        log.info("started %s (pid %d) at %s", s.name, self.procs[i].pid, s.host)

    def clock_offset_file(self, i: int) -> pathlib.Path:
        return self.data_dir / self.specs[i].name / "clock-offset"

    def set_clock_offset(self, i: int, seconds: float) -> None:
        """The node's wall clock runs ``seconds`` ahead (behind if negative) within about a
        second (clockshim/sitecustomize.py re-reads the file); its monotonic clock is untouched."""
        path = self.clock_offset_file(i)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(f"{seconds}\n")
        tmp.replace(path)

    def start_all(self) -> None:
        for i in range(len(self.specs)):
            self.start(i)

    def alive(self, i: int) -> bool:
        p = self.procs.get(i)
        return p is not None and p.poll() is None

    def kill(self, i: int) -> None:
        p = self.procs.get(i)
        if p is not None and p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=30)
        self.paused.discard(i)

    def pause(self, i: int) -> None:
        p = self.procs.get(i)
        if p is not None and p.poll() is None:
            os.kill(p.pid, signal.SIGSTOP)
            self.paused.add(i)

    def resume(self, i: int) -> None:
        p = self.procs.get(i)
        if p is not None and p.poll() is None:
            os.kill(p.pid, signal.SIGCONT)
        self.paused.discard(i)

    def ready(self, i: int, timeout: float = 2.0) -> bool:
        try:
            with httpx.Client(timeout=timeout, trust_env=False) as c:
                return c.get(f"{self.specs[i].url}/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, nodes: list[int] | None = None, timeout: float = 120.0) -> list[int]:
        """Wait for the nodes' gateways to be ready; returns those still not ready."""
        pending = list(range(len(self.specs)) if nodes is None else nodes)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for i in list(pending):
                if not self.alive(i):
                    tail = self.log_path(i).read_text(errors="replace")[-1500:]
                    raise RuntimeError(f"{self.specs[i].name} exited with {self.procs[i].returncode}; its log ends with:\n{tail}")
                if self.ready(i):
                    pending.remove(i)
            if pending:
                time.sleep(0.5)
        return pending

    def status(self, i: int) -> dict[str, Any] | None:
        try:
            st = json.loads((self.state_dir(i) / "status.json").read_text())
        except (OSError, ValueError):
            return None
        if not self.alive(i) or i in self.paused or time.time() - st.get("at", 0) > 5:
            return None
        return st

    def node_of_address(self, address: str | None) -> int | None:
        if not address:
            return None
        for s in self.specs:
            if address in s.raft_addresses():
                return s.index
        return None

    def leaders(self) -> dict[str, int]:
        """Group -> index of the node its live replicas name as leader (when they agree)."""
        seen: dict[str, set[str]] = {}
        for i in range(len(self.specs)):
            st = self.status(i)
            for g in (st or {}).get("groups", []):
                if g.get("leader"):
                    seen.setdefault(g["group"], set()).add(g["leader"])
        out = {}
        for group, leaders in seen.items():
            node = self.node_of_address(next(iter(leaders))) if len(leaders) == 1 else None
            if node is not None:
                out[group] = node
        return out

    def stop_all(self, grace: float = 10.0) -> None:
        """SIGCONT, SIGTERM, then SIGKILL whatever is left; reaps every process."""
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                    os.kill(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for p in self.procs.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=30)
        self.paused.clear()
