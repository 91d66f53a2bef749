"""A small writer-preferring readers-writer lock."""

from __future__ import annotations

import threading
from collections.abc import Callable


class _Guard:
    """``with lock.write():`` without a generator per use."""

    __slots__ = ("_acquire", "_release")

    def __init__(self, acquire: Callable[[], None], release: Callable[[], None]) -> None:
        self._acquire = acquire
        self._release = release

    def __enter__(self) -> None:
        self._acquire()

    def __exit__(self, *exc: object) -> None:
        self._release()


class _ReadGuard:
    """``with lock.read():``: every search takes one, so the uncontended path is a plain lock and a counter."""

    __slots__ = ("_rw",)

    def __init__(self, rw: RWLock) -> None:
        self._rw = rw

    def __enter__(self) -> None:
        rw = self._rw
        rw._mutex.acquire()
        try:
            while rw._writer or rw._writers_waiting:
                rw._cond.wait()
            rw._readers += 1
        finally:
            rw._mutex.release()

    def __exit__(self, *exc: object) -> None:
        rw = self._rw
        rw._mutex.acquire()
        rw._readers -= 1
        if not rw._readers and rw._writers_waiting:
            rw._cond.notify_all()
        rw._mutex.release()


class RWLock:
    """Many readers or one writer; a waiting writer holds back new readers."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._cond = threading.Condition(self._mutex)
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0
        self._read_guard = _ReadGuard(self)
        self._write_guard = _Guard(self._acquire_write, self._release_write)

    def read(self) -> _ReadGuard:
        return self._read_guard

    def write(self) -> _Guard:
        return self._write_guard

    def _acquire_write(self) -> None:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True

    def _release_write(self) -> None:
        with self._cond:
            self._writer = False
            self._cond.notify_all()
