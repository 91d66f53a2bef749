"""A real file layer that also records what it did, in order (for durability-order tests)."""

from __future__ import annotations

import threading
from typing import Any

from vectron.raft.durable_file import FileLayer


class RecordingFiles(FileLayer):
    """Does every operation for real, then appends ``(op, path, ...)`` to :attr:`events`."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self._paths: dict[int, str] = {}
        self._lock = threading.Lock()

    def note(self, *event: Any) -> None:
        with self._lock:
            self.events.append(event)

    def open(self, path: str, flags: int, mode: int = 0o600) -> int:
        fd = super().open(path, flags, mode)
        self._paths[fd] = path
        self.note("open", path)
        return fd

    def write(self, fd: int, data: bytes) -> None:
        super().write(fd, data)
        self.note("write", self._paths.get(fd), bytes(data))

    def pwrite(self, fd: int, data: bytes, offset: int) -> None:
        super().pwrite(fd, data, offset)
        self.note("pwrite", self._paths.get(fd))

    def fsync(self, fd: int) -> None:
        super().fsync(fd)
        self.note("fsync", self._paths.get(fd))

    def fdatasync(self, fd: int) -> None:
        super().fdatasync(fd)
        self.note("fdatasync", self._paths.get(fd))

    def truncate(self, fd: int, size: int) -> None:
        super().truncate(fd, size)
        self.note("truncate", self._paths.get(fd))

    def close(self, fd: int) -> None:
        path = self._paths.pop(fd, None)
        super().close(fd)
        self.note("close", path)

    def replace(self, src: str, dst: str) -> None:
        super().replace(src, dst)
        self.note("replace", src, dst)

    def fsync_dir(self, folder: str) -> None:
        super().fsync_dir(folder)
        self.note("fsync_dir", folder)
