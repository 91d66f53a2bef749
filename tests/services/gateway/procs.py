"""Real `vectrond --role all` processes on loopback ports picked free at run time."""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import httpx


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


def free_range(size: int) -> tuple[int, int]:
    import random

    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32000)
        ok = True
        for p in range(base, base + size):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base, base + size - 1
    raise RuntimeError("no free port range")


@dataclass
class Daemon:
    data_dir: pathlib.Path
    args: list[str]
    env: dict[str, str]
    rest: str
    grpc: str
    proc: subprocess.Popen | None = None
    log: pathlib.Path = field(default_factory=lambda: pathlib.Path(os.devnull))

    @property
    def url(self) -> str:
        return f"http://{self.rest}"

    def start(self) -> None:
        self.log = self.data_dir.parent / f"{self.data_dir.name}.log"
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vectron.daemon", *self.args], stdout=out, stderr=subprocess.STDOUT, env=self.env,
            start_new_session=True,
        )
        out.close()

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"vectrond exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"vectrond not ready in {timeout}s:\n{self.log.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


def single_node(tmp: pathlib.Path, *extra: str) -> Daemon:
    ports = free_ports(7)
    lo, hi = free_range(20)
    rest, grpc_ = f"127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[1]}"
    data = tmp / "node1"
    args = [
        "--role", "all", "--data-dir", str(data), "--rest-listen", rest, "--public-grpc-listen", grpc_,
        "--auth-raft", f"127.0.0.1:{ports[2]}", "--auth-grpc", f"127.0.0.1:{ports[3]}",
        "--placement-raft", f"127.0.0.1:{ports[4]}", "--placement-grpc", f"127.0.0.1:{ports[5]}",
        "--worker-grpc", f"127.0.0.1:{ports[6]}", "--raft-ports", f"{lo}-{hi}", "--bcrypt-rounds", "4", "--default-plan", "unlimited",
        "--default-shards", "3", "--log-level", "INFO", *extra,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECTRON_")}
    return Daemon(data_dir=data, args=args, env=env, rest=rest, grpc=grpc_)
