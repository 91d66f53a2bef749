"""Durable small files: write beside, fsync the file, rename, fsync the folder.

Every small state file of the Raft package (the journal's term/vote/commit
meta, a compacted journal) is replaced through :func:`write_atomic`, so after
a power loss it holds either the old or the new content, never nothing. The
file operations go through a :class:`FileLayer` (the real one is :data:`OS_FILES`);
tests pass a subclass that records the order of the operations (it still does
the real I/O).
"""

from __future__ import annotations

import os

__all__ = ["FileLayer", "OS_FILES", "fsync_dir", "write_atomic"]


class FileLayer:
    """The file operations durability depends on, one method each (real I/O).

    Subclass to observe them (tests); every method must still do the operation."""

    def open(self, path: str, flags: int, mode: int = 0o600) -> int:
        return os.open(path, flags, mode)

    def write(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    def pwrite(self, fd: int, data: bytes, offset: int) -> None:
        os.pwrite(fd, data, offset)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def fdatasync(self, fd: int) -> None:
        os.fdatasync(fd)

    def truncate(self, fd: int, size: int) -> None:
        os.ftruncate(fd, size)

    def close(self, fd: int) -> None:
        os.close(fd)

    def replace(self, src: str, dst: str) -> None:
        os.replace(src, dst)

    def fsync_dir(self, folder: str) -> None:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


#: The real file layer (stateless: one shared instance).
OS_FILES = FileLayer()


def fsync_dir(path: str, *, fs: FileLayer = OS_FILES) -> None:
    """fsync the folder holding ``path`` (makes a rename or a new file in it durable)."""
    fs.fsync_dir(os.path.dirname(os.path.abspath(path)) or ".")


def write_atomic(path: str, data: bytes, *, fs: FileLayer = OS_FILES, durable: bool = True) -> None:
    """Replace ``path`` with ``data``: temp written, fsynced, renamed, folder fsynced.

    With ``durable=False`` the two fsyncs are skipped (survives a process crash,
    not a power loss). The file is created with mode 0600."""
    tmp = path + ".tmp"
    fd = fs.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        fs.write(fd, data)
        if durable:
            fs.fsync(fd)
    finally:
        fs.close(fd)
    fs.replace(tmp, path)
    if durable:
        fsync_dir(path, fs=fs)
