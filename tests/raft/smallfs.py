"""A small real filesystem for disk-full tests (tmpfs with size=, root only) and a
ballast file that fills it to the last block."""

from __future__ import annotations

import contextlib
import errno
import os
import pathlib
import subprocess
from collections.abc import Iterator


@contextlib.contextmanager
def small_filesystem(path: pathlib.Path, size: str = "4m") -> Iterator[pathlib.Path]:
    path.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: pathlib.Path) -> pathlib.Path:
    """Allocate a ballast file until the filesystem is full."""
    ballast = path / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT, 0o600)
    taken, chunk = 0, 1 << 20
    try:
        while chunk >= 4096:
            try:
                os.posix_fallocate(fd, taken, chunk)
                taken += chunk
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                chunk //= 2
    finally:
        os.close(fd)
    return ballast
