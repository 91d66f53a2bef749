"""Real raft nodes as processes (tests/raft/node_proc.py) and a 3-node cluster of them."""

from __future__ import annotations

import itertools
import json
import pathlib
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[2]
PASSWORD = "test-cluster-password"


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


def wait_for(pred: Callable[[], Any], timeout: float = 60.0, interval: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = pred()
            if value:
                return value
        except Exception as exc:
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last error: {last_exc!r})")


class NodeProc:
    """One node process; ``call`` sends a request and waits for its answer."""

    def __init__(self, addr: str, peers: list[str], data_dir: pathlib.Path, extra: tuple[str, ...] = ()) -> None:
        self.addr = addr
        self.peers = peers
        self.dir = data_dir
        self.extra = extra
        self.proc: subprocess.Popen[str] | None = None
        self._answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._ids = itertools.count()
        self._lock = threading.Lock()

    @property
    def stderr_path(self) -> pathlib.Path:
        return self.dir / "stderr.log"

    def start(self, expect_started: bool = True) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._answers = queue.Queue()
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.raft.node_proc", "--addr", self.addr, "--peers", ",".join(self.peers),
                 "--dir", str(self.dir), "--password", PASSWORD, *self.extra],
                cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1,
            )
        threading.Thread(target=self._pump, args=(self.proc, self._answers), daemon=True).start()
        if expect_started:
            first = self._answers.get(timeout=60)
            if first != {"started": True}:
                raise RuntimeError(f"node {self.addr} did not start: {first}; stderr: {self.stderr_path.read_text()[-2000:]}")

    @staticmethod
    def _pump(proc: subprocess.Popen[str], answers: queue.Queue[dict[str, Any] | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            answers.put(json.loads(line))
        answers.put(None)

    def call(self, req: dict[str, Any], timeout: float = 40.0) -> dict[str, Any]:
        with self._lock:
            assert self.proc is not None and self.proc.stdin is not None
            rid = next(self._ids)
            self.proc.stdin.write(json.dumps({**req, "id": rid}) + "\n")
            self.proc.stdin.flush()
            deadline = time.monotonic() + timeout
            while True:
                answer = self._answers.get(timeout=max(0.01, deadline - time.monotonic()))
                if answer is None:
                    raise RuntimeError(f"node {self.addr} exited")
                if answer.get("id") == rid:
                    return answer

    def ok(self, req: dict[str, Any], timeout: float = 40.0) -> Any:
        answer = self.call(req, timeout)
        if "error" in answer:
            raise RuntimeError(f"{self.addr}: {answer}")
        return answer["ok"]

    def status(self) -> dict[str, Any]:
        return self.ok({"op": "status"}, timeout=10)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.wait()

    def wait(self, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        code = self.proc.wait(timeout)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        return code

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Cluster:
    def __init__(self, root: pathlib.Path, n: int = 3, extra: tuple[str, ...] = ()) -> None:
        addrs = [f"127.0.0.1:{p}" for p in free_ports(n)]
        self.nodes = [NodeProc(a, addrs, root / f"node{i}", extra) for i, a in enumerate(addrs)]

    def start(self) -> Cluster:
        for node in self.nodes:
            node.start(expect_started=False)
        for node in self.nodes:
            first = node._answers.get(timeout=60)
            if first != {"started": True}:
                raise RuntimeError(f"node {node.addr} did not start: {node.stderr_path.read_text()[-2000:]}")
        return self

    def leader(self, among: list[NodeProc] | None = None, timeout: float = 60.0) -> NodeProc:
        """A node that says it leads and that the others agree on (a hint, for tests)."""
        candidates = [n for n in (among or self.nodes) if n.alive]

        def find() -> NodeProc | None:
            statuses = {n.addr: n.status() for n in candidates}
            leaders = {s["leader"] for s in statuses.values()}
            if len(leaders) == 1 and None not in leaders:
                addr = leaders.pop()
                if addr in statuses and statuses[addr]["role"] == "leader":
                    return next(n for n in candidates if n.addr == addr)
            return None

        return wait_for(find, timeout, what="a leader")

    def followers(self, leader: NodeProc) -> list[NodeProc]:
        return [n for n in self.nodes if n is not leader]

    def kill_all(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.send_signal(signal.SIGKILL)
        for node in self.nodes:
            node.wait()

    def stop(self) -> None:
        self.kill_all()
