"""Fixtures shared by the service tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator

import pytest

SERVER = textwrap.dedent(
    """
    import threading
    from vectron.services.serving import start_grpc_server
    server = start_grpc_server("127.0.0.1:0", lambda s: None, [])
    server.set_serving(True)
    print(server.port, flush=True)
    threading.Event().wait()
    """
)


@pytest.fixture
def health_server_process() -> Iterator[Callable[[], tuple[subprocess.Popen[str], int]]]:
    """Start gRPC servers (health service only, vectron's server options) in their own
    processes, so that a test can pause one (SIGSTOP): ``start() -> (process, port)``."""
    procs: list[subprocess.Popen[str]] = []

    def start() -> tuple[subprocess.Popen[str], int]:
        proc = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None
        return proc, int(proc.stdout.readline())

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
            proc.wait()
