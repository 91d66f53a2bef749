"""Real `vectrond --role auth` processes on loopback ports, for the group tests."""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from vectron.services.auth.grpc_server import SERVICE_NAME
from vectron.services.channels import open_channel
from vectron.services.internal_auth import ClusterCredential
from vectron.v1 import auth_pb2_grpc


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


@dataclass
class Node:
    index: int
    raft: str
    grpc_addr: str
    data_dir: pathlib.Path
    log_path: pathlib.Path
    proc: subprocess.Popen | None = None
    channel: grpc.Channel | None = None

    def stub(self) -> auth_pb2_grpc.AuthServiceStub:
        assert self.channel is not None
        return auth_pb2_grpc.AuthServiceStub(self.channel)

    def serving(self) -> bool:
        if self.channel is None:
            return False
        try:
            reply = health_pb2_grpc.HealthStub(self.channel).Check(
                health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=1.0
            )
        except grpc.RpcError:
            return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING


@dataclass
class AuthCluster:
    root: pathlib.Path
    size: int = 3
    nodes: list[Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        ports = free_ports(2 * self.size)
        self.secret_file = self.root / "jwt.secret"
        self.secret_file.write_text(secrets.token_hex(32))
        os.chmod(self.secret_file, 0o600)
        self.password = secrets.token_hex(16)
        for i in range(self.size):
            self.nodes.append(
                Node(
                    index=i,
                    raft=f"127.0.0.1:{ports[i]}",
                    grpc_addr=f"127.0.0.1:{ports[self.size + i]}",
                    data_dir=self.root / f"node{i}",
                    log_path=self.root / f"node{i}.log",
                )
            )

    def start(self, node: Node) -> None:
        peers = ",".join(n.raft for n in self.nodes if n is not node)
        env = {**os.environ, "VECTRON_CLUSTER_PASSWORD": self.password, "PYTHONUNBUFFERED": "1"}
        cmd = [
            sys.executable, "-m", "vectron.daemon", "--role", "auth",
            "--data-dir", str(node.data_dir), "--raft-addr", node.raft, "--peers", peers,
            "--grpc-listen", node.grpc_addr, "--jwt-secret-file", str(self.secret_file),
            "--bcrypt-rounds", "4", "--log-level", "INFO",
        ]
        log = open(node.log_path, "ab")
        node.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        log.close()
        if node.channel is None:
            node.channel = open_channel(node.grpc_addr, credential=ClusterCredential(self.password, "test"))

    def start_all(self) -> None:
        for node in self.nodes:
            self.start(node)

    def kill(self, node: Node) -> None:
        """kill -9: no graceful shutdown."""
        if node.proc is not None and node.proc.poll() is None:
            node.proc.send_signal(signal.SIGKILL)
            node.proc.wait(timeout=10)
        node.proc = None

    def wait_serving(self, nodes: list[Node] | None = None, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(nodes or self.nodes)
        while waiting:
            for node in list(waiting):
                if node.proc is not None and node.proc.poll() is not None:
                    raise RuntimeError(f"node {node.index} exited:\n{node.log_path.read_text()[-3000:]}")
                if node.serving():
                    waiting.remove(node)
            if waiting and time.monotonic() > deadline:
                logs = "\n".join(n.log_path.read_text()[-2000:] for n in waiting)
                raise TimeoutError(f"nodes {[n.index for n in waiting]} not serving:\n{logs}")
            time.sleep(0.2)

    def leader(self, timeout: float = 30.0) -> Node:
        """The live node whose own fresh status.json (written after this call) says it leads."""
        since = time.time()
        deadline = time.monotonic() + timeout
        while True:
            for node in self.nodes:
                if node.proc is None:
                    continue
                try:
                    status = json.loads((node.data_dir / "status.json").read_text())
                except (OSError, ValueError):
                    continue
                group = status["groups"][0]
                if status["at"] > since and group.get("role") == "leader" and group.get("leader") == node.raft:
                    return node
            if time.monotonic() > deadline:
                raise TimeoutError("no node reports itself the leader")
            time.sleep(0.2)

    def stop_all(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.send_signal(signal.SIGTERM)
        for node in self.nodes:
            if node.proc is not None:
                try:
                    node.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    node.proc.wait(timeout=10)
                node.proc = None
            if node.channel is not None:
                node.channel.close()
                node.channel = None
