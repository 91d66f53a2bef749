"""Real `vectrond --role placement` and `vectrond --role worker` processes on loopback
ports picked free at run time, for the shard integration tests."""

from __future__ import annotations

import os
import pathlib
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from vectron.services.channels import open_channel
from vectron.services.internal_auth import ClusterCredential
from vectron.v1 import placement_pb2, placement_pb2_grpc, worker_pb2_grpc

T = TypeVar("T")
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED}


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_range(size: int, taken: set[int]) -> tuple[int, int]:
    """A contiguous range of ``size`` ports that are free now (and not in ``taken``)."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32000)
        ports = range(base, base + size)
        if not taken.intersection(ports) and all(_bindable(p) for p in ports):
            taken.update(ports)
            return base, base + size - 1
    raise RuntimeError("no free port range")


@dataclass
class Proc:
    name: str
    cmd: list[str]
    log_path: pathlib.Path
    grpc_addr: str
    data_dir: pathlib.Path
    proc: subprocess.Popen | None = None
    channel: grpc.Channel | None = None

    def serving(self) -> bool:
        if self.channel is None:
            return False
        try:
            reply = health_pb2_grpc.HealthStub(self.channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
        except grpc.RpcError:
            return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    def log_tail(self, n: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path.exists() else ""


@dataclass
class ShardCluster:
    root: pathlib.Path
    workers: int = 3
    placement_nodes: int = 1
    procs: dict[str, Proc] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.password = secrets.token_hex(16)
        taken: set[int] = set()
        ports = free_ports(2 * self.placement_nodes + self.workers)
        taken.update(ports)
        raft = [f"127.0.0.1:{p}" for p in ports[: self.placement_nodes]]
        pd_grpc = [f"127.0.0.1:{p}" for p in ports[self.placement_nodes : 2 * self.placement_nodes]]
        self.placement_addresses = pd_grpc
        for i in range(self.placement_nodes):
            data = self.root / f"pd{i}"
            cmd = [
                sys.executable, "-m", "vectron.daemon", "--role", "placement", "--data-dir", str(data),
                "--raft-addr", raft[i], "--peers", ",".join(r for r in raft if r != raft[i]), "--grpc-listen", pd_grpc[i],
            ]
            self.procs[f"pd{i}"] = Proc(f"pd{i}", cmd, self.root / f"pd{i}.log", pd_grpc[i], data)
        for i in range(self.workers):
            lo, hi = free_range(8, taken)
            grpc_addr = f"127.0.0.1:{ports[2 * self.placement_nodes + i]}"
            data = self.root / f"w{i}"
            cmd = [
                sys.executable, "-m", "vectron.daemon", "--role", "worker", "--data-dir", str(data),
                "--worker-id", f"w{i}", "--placement", ",".join(pd_grpc), "--grpc-listen", grpc_addr,
                "--raft-host", "127.0.0.1", "--raft-ports", f"{lo}-{hi}",
            ]
            self.procs[f"w{i}"] = Proc(f"w{i}", cmd, self.root / f"w{i}.log", grpc_addr, data)

    # -- processes -------------------------------------------------------------------------
    def start(self, name: str) -> None:
        p = self.procs[name]
        env = {**os.environ, "VECTRON_CLUSTER_PASSWORD": self.password, "PYTHONUNBUFFERED": "1"}
        with open(p.log_path, "ab") as log:
            p.proc = subprocess.Popen(p.cmd + ["--log-level", "INFO"], stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        if p.channel is None:
            p.channel = open_channel(p.grpc_addr, credential=ClusterCredential(self.password, "test"))

    def start_all(self) -> None:
        for name in self.procs:
            self.start(name)

    def kill(self, name: str) -> None:
        """kill -9 the process group: no graceful shutdown."""
        p = self.procs[name]
        if p.proc is not None and p.proc.poll() is None:
            os.killpg(p.proc.pid, signal.SIGKILL)
            p.proc.wait(timeout=10)
        p.proc = None

    def wait_serving(self, names: list[str] | None = None, timeout: float = 60.0) -> None:
        waiting = list(names or self.procs)
        deadline = time.monotonic() + timeout
        while waiting:
            for name in list(waiting):
                p = self.procs[name]
                if p.proc is not None and p.proc.poll() is not None:
                    raise RuntimeError(f"{name} exited:\n{p.log_tail()}")
                if p.serving():
                    waiting.remove(name)
            if waiting and time.monotonic() > deadline:
                raise TimeoutError(f"{waiting} not serving:\n" + "\n".join(self.procs[n].log_tail(2000) for n in waiting))
            time.sleep(0.2)

    def stop_all(self) -> None:
        for p in self.procs.values():
            if p.proc is not None and p.proc.poll() is None:
                os.killpg(p.proc.pid, signal.SIGTERM)
        for p in self.procs.values():
            if p.proc is not None:
                try:
                    p.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(p.proc.pid, signal.SIGKILL)
                    p.proc.wait(timeout=10)
                p.proc = None
            if p.channel is not None:
                p.channel.close()
                p.channel = None

    # -- stubs -----------------------------------------------------------------------------
    def placement(self) -> placement_pb2_grpc.PlacementServiceStub:
        for i in range(self.placement_nodes):
            p = self.procs[f"pd{i}"]
            if p.proc is not None and p.channel is not None:
                return placement_pb2_grpc.PlacementServiceStub(p.channel)
        raise RuntimeError("no placement node up")

    def worker_stub(self, address: str) -> worker_pb2_grpc.WorkerServiceStub:
        for p in self.procs.values():
            if p.grpc_addr == address and p.channel is not None:
                return worker_pb2_grpc.WorkerServiceStub(p.channel)
        raise KeyError(address)

    def worker_name(self, worker_id: str) -> str:
        return worker_id  # workers are started with --worker-id w<i>

    def wait_live_workers(self, n: int, timeout: float = 60.0) -> None:
        poll(lambda: sum(w.live for w in self.placement().ListWorkers(placement_pb2.ListWorkersRequest(), timeout=5).workers) >= n or None,
             timeout, f"{n} live workers")


def poll(fn: Callable[[], T | None], timeout: float = 60.0, what: str = "condition", interval: float = 0.2) -> T:
    """Call ``fn`` until it returns something truthy (retryable RPC errors count as not yet)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = fn()
            if value:
                return value
        except grpc.RpcError as exc:
            if exc.code() not in RETRYABLE | {grpc.StatusCode.NOT_FOUND}:
                raise
            last = exc
        except AssertionError as exc:
            last = exc
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what} (last: {last!r})")
        time.sleep(interval)
