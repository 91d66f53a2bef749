"""pysyncobj_compat: the version pin fires; the Raft port binds the configured host only."""

from __future__ import annotations

import os
import pathlib

import pytest

from vectron.errors import StorageError
from vectron.raft import pysyncobj_compat

from .procs import free_ports
from .test_group import make_group


def test_another_pysyncobj_release_is_refused() -> None:
    pysyncobj_compat.require_pinned_version()  # the installed one is the pinned one
    with pytest.raises(StorageError, match="pysyncobj==0.3.17"):
        pysyncobj_compat.require_pinned_version("0.3.18")


def own_listening_sockets() -> list[tuple[str, int]]:
    """(hex local address, port) of every TCP socket this process listens on (/proc)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                local, state, inode = cols[1], cols[3], cols[9]
                if state == "0A" and inode in inodes:  # 0A: LISTEN
                    addr, port = local.split(":")
                    found.append((addr, int(port, 16)))
    return found


def test_the_raft_port_listens_on_the_configured_host_only(tmp_path: pathlib.Path) -> None:
    port = free_ports(1)[0]
    addr = f"127.0.0.1:{port}"
    with make_group(tmp_path, addr, [addr], "bind") as g:
        g.wait_ready(10)
        on_port = [a for a, p in own_listening_sockets() if p == port]
        assert on_port == ["0100007F"]  # 127.0.0.1, little-endian hex; 00000000 would be 0.0.0.0
