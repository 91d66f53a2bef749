"""The ``clock`` nemesis's wall-clock offset, loaded into every node process at
start (``PYTHONPATH`` names this folder, so Python imports it before anything
else): ``time.time`` and ``time.time_ns`` return the real wall time plus the
seconds written in the file ``$JEPSEN_CLOCK_OFFSET_FILE`` (re-read at most once
a second; missing or unreadable: no offset). Monotonic clocks are untouched.

Why not libfaketime: Debian's libfaketime 0.9.10 makes Python 3.11's
``time.sleep`` fail with EINVAL (it intercepts ``clock_nanosleep``), so a
daemon under it cannot run at all. Every wall-clock reader in vectron binds
``time.time`` (``clock=time.time`` defaults included) after this module ran,
so they all see the offset; ``datetime.now()`` would not (vectron does not use it)."""

from __future__ import annotations

import os
import time


def _install(path: str) -> None:
    real_time, real_time_ns, monotonic = time.time, time.time_ns, time.monotonic
    cached = {"offset": 0.0, "read_at": -1e18}

    def offset() -> float:
        now = monotonic()
        if now - cached["read_at"] >= 1.0:
            cached["read_at"] = now
            try:
                with open(path, encoding="ascii") as f:
                    cached["offset"] = float(f.read().strip() or 0)
            except (OSError, ValueError):
                pass
        return cached["offset"]

    time.time = lambda: real_time() + offset()  # type: ignore[assignment]
    time.time_ns = lambda: real_time_ns() + int(offset() * 1e9)  # type: ignore[assignment]


if os.environ.get("JEPSEN_CLOCK_OFFSET_FILE"):
    _install(os.environ["JEPSEN_CLOCK_OFFSET_FILE"])
