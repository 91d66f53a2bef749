"""The shared read barrier: many concurrent linearizable readers, few log entries.

:class:`BarrierBatcher` is told how to issue one barrier (a no-op through the
log whose answer is its applied index, or an error) and lets every reader that
arrives while one is in flight share the next one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from vectron.errors import Unavailable

__all__ = ["BarrierBatcher", "BarrierDone", "IssueBarrier"]

#: Called once per barrier with (applied index, None) or (None, why it failed).
BarrierDone = Callable[[int | None, str | None], None]
#: Appends one barrier entry; its outcome goes to the callback.
IssueBarrier = Callable[[BarrierDone], None]


class _Round:
    __slots__ = ("event", "index", "error", "started")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.index = 0
        self.error: Exception | None = None
        self.started = 0.0


class BarrierBatcher:
    """Shares read barriers among concurrent readers.

    A reader joins the round that will be *issued after it arrived*: if no round
    is in flight it issues one, otherwise it waits for the next round, which is
    issued when the in-flight one completes. So every reader's barrier entry
    enters the log after the reader arrived (linearizable), and at most two
    barrier entries are outstanding no matter how many readers there are. A
    round not answered for ``stale_after`` seconds is abandoned.
    """

    def __init__(self, issue: IssueBarrier, stale_after: float) -> None:
        self._issue = issue
        self._stale_after = stale_after
        self._lock = threading.RLock()
        self._inflight: _Round | None = None
        self._next: _Round | None = None

    def wait(self, timeout: float) -> int:
        """Wait for a barrier issued after this call; its index, or :class:`Unavailable`."""
        with self._lock:
            now = time.monotonic()
            if self._inflight is not None and now - self._inflight.started > self._stale_after:
                stale, self._inflight = self._inflight, None
                stale.error = Unavailable("read barrier abandoned (no answer)")
                stale.event.set()
                if self._next is not None:
                    self._start(self._next)
                    self._next = None
            if self._inflight is None:
                rnd = _Round()
                self._start(rnd)
            else:
                if self._next is None:
                    self._next = _Round()
                rnd = self._next
        if not rnd.event.wait(timeout):
            raise Unavailable("read barrier timed out")
        if rnd.error is not None:
            raise rnd.error
        return rnd.index

    def fail_all(self, error: Exception) -> None:
        with self._lock:
            for rnd in (self._inflight, self._next):
                if rnd is not None:
                    rnd.error = error
                    rnd.event.set()
            self._inflight = self._next = None

    def _start(self, rnd: _Round) -> None:
        rnd.started = time.monotonic()
        self._inflight = rnd
        self._issue(lambda index, error: self._done(rnd, index, error))

    def _done(self, rnd: _Round, index: int | None, error: str | None) -> None:
        with self._lock:
            if error is None and index is not None:
                rnd.index = index
            else:
                rnd.error = Unavailable(f"read barrier failed: {error or 'group stopped'}")
            rnd.event.set()
            if self._inflight is rnd:
                self._inflight = None
                if self._next is not None:
                    nxt, self._next = self._next, None
                    self._start(nxt)
