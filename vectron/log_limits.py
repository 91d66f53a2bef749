"""Rate limiting of repeated log messages, so that a flood of bad requests cannot fill the disk.

:class:`RepeatFilter` is a :class:`logging.Filter` for handlers: records at
WARNING and above are grouped by (logger, level, message template); each group
lets ``burst`` records through per ``window`` seconds and drops the rest. The
first record let through after drops says how many similar ones were dropped.
Records below WARNING pass untouched (their volume is the log level's business).
The daemon installs one on its log handlers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RepeatFilter", "install_repeat_filter"]


@dataclass
class _Group:
    window_start: float
    passed: int = 0
    dropped: int = 0


class RepeatFilter(logging.Filter):
    def __init__(
        self, *, burst: int = 10, window: float = 60.0, max_groups: int = 1000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self._max_groups = max_groups
        self._clock = clock
        self._lock = threading.Lock()
        self._groups: dict[tuple[str, int, str], _Group] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        with self._lock:
            group = self._groups.get(key)
            if group is None:
                if len(self._groups) >= self._max_groups:
                    self._groups.clear()
                group = self._groups[key] = _Group(window_start=now)
            elif now - group.window_start >= self.window:
                group.window_start, group.passed = now, 0
            if group.passed >= self.burst:
                group.dropped += 1
                return False
            group.passed += 1
            dropped, group.dropped = group.dropped, 0
        if dropped:
            record.msg = f"{record.getMessage()} [{dropped} similar message(s) dropped]"
            record.args = None
        return True


def install_repeat_filter(logger: logging.Logger | None = None, **kwargs: float) -> RepeatFilter:
    """Put one RepeatFilter on every handler of ``logger`` (the root logger by default)."""
    flt = RepeatFilter(**kwargs)  # type: ignore[arg-type]
    for handler in (logger or logging.getLogger()).handlers:
        handler.addFilter(flt)
    return flt
