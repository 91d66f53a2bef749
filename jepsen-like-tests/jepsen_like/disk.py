"""Small filesystems for the ``disk-full`` nemesis: every node's state folder
(``data/n<i>/db``: LMDB, Raft journals, snapshots, status) is an ext4 image of
its own, loop-mounted (root only), so that one node's disk can be filled while
the others' are not. Filling allocates a ballast file until the filesystem
answers ENOSPC; freeing deletes it. The node log stays outside (``data/n<i>``),
so what the node says about the full disk is kept.

``mkfs.ext4 -m 0``: no blocks reserved for root (the daemon runs as root here,
and reserved blocks would let it go on writing)."""

from __future__ import annotations

import errno
import logging
import os
import pathlib
import subprocess
from dataclasses import dataclass, field

__all__ = ["DiskUnavailable", "Disks"]

log = logging.getLogger("jepsen_like.disk")

BALLAST = "ballast.fill"


class DiskUnavailable(RuntimeError):
    """Loop-mounted filesystems cannot be made here (not root, no loop devices, no mkfs.ext4)."""


def _run(*cmd: str) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise DiskUnavailable(f"{' '.join(cmd)}: {res.stderr.strip() or res.stdout.strip()}")


@dataclass
class Disks:
    """One loop-mounted ext4 image of ``size_mb`` per mount point."""

    mounts: list[pathlib.Path]
    images: pathlib.Path
    size_mb: int = 512
    mounted: list[pathlib.Path] = field(default_factory=list)
    full: set[int] = field(default_factory=set)

    def setup(self) -> None:
        if os.geteuid() != 0:
            raise DiskUnavailable("not root: cannot loop-mount filesystems")
        self.images.mkdir(parents=True, exist_ok=True)
        for i, mount in enumerate(self.mounts):
            image = self.images / f"n{i + 1}.ext4"
            with open(image, "wb") as f:
                f.truncate(self.size_mb << 20)  # sparse: takes no room until written
            _run("mkfs.ext4", "-q", "-F", "-m", "0", str(image))
            mount.mkdir(parents=True, exist_ok=True)
            _run("mount", "-o", "loop", str(image), str(mount))
            self.mounted.append(mount)

    def fill(self, i: int) -> int:
        """Allocate a ballast file until the filesystem is full; returns the bytes taken."""
        path = self.mounts[i] / BALLAST
        taken = 0
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            chunk = 64 << 20
            while chunk >= 4096:
                try:
                    os.posix_fallocate(fd, taken, chunk)
                    taken += chunk
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    chunk //= 2
            os.fsync(fd)
        finally:
            os.close(fd)
        self.full.add(i)
        log.info("filled %s: %d MiB of ballast", self.mounts[i], taken >> 20)
        return taken

    def free(self, i: int) -> None:
        (self.mounts[i] / BALLAST).unlink(missing_ok=True)
        self.full.discard(i)

    def free_all(self) -> None:
        for i in sorted(self.full):
            self.free(i)

    def teardown(self) -> None:
        """Unmount every filesystem (lazily: a process still holding a file cannot block it).
        The images stay (the runner deletes them with the databases after a valid run)."""
        for mount in self.mounted:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)
        self.mounted.clear()
