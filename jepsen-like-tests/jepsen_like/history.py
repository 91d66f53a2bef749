"""Operation histories: ``invoke`` then ``ok`` / ``fail`` / ``info`` per operation,
with monotonic timestamps, appended to a JSON-lines file as they happen.

``fail`` means the operation definitely did not take effect; ``info`` means it
may or may not have (a timeout, a dropped connection, an ``indeterminate``
answer). Checkers work on :class:`Op` records, one per operation, pairing the
invocation with its completion (an operation with no completion is ``info``).
"""

from __future__ import annotations

import json
import math
import pathlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any

__all__ = ["FaultWindow", "History", "Op", "fault_windows", "load_history", "pair_events"]

OUTCOMES = ("ok", "fail", "info")


@dataclass
class Op:
    """One completed (or abandoned) operation."""

    id: int
    process: int
    f: str
    key: Any = None
    value: Any = None
    outcome: str = "info"
    call: float = 0.0
    ret: float = math.inf
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass
class History:
    """A thread-safe recorder. Each event is one JSON line written (and flushed)
    when it happens, so a crashed run still leaves its history behind."""

    path: pathlib.Path | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _next_id: int = 0
    _file: IO[str] | None = field(default=None, repr=False)
    _t0: float = field(default_factory=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        if self.path is not None:
            self._file = open(self.path, "a", encoding="utf-8")

    def _emit(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if self._file is not None:
            self._file.write(json.dumps(event, default=str) + "\n")
            self._file.flush()

    def invoke(self, process: int, f: str, key: Any = None, value: Any = None, **extra: Any) -> int:
        with self._lock:
            op_id = self._next_id
            self._next_id += 1
            self._emit({"type": "invoke", "id": op_id, "process": process, "f": f, "key": key, "value": value,
                        "time": time.monotonic() - self._t0, **extra})
            return op_id

    def complete(self, op_id: int, outcome: str, value: Any = None, **extra: Any) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        with self._lock:
            self._emit({"type": outcome, "id": op_id, "value": value, "time": time.monotonic() - self._t0, **extra})

    def note(self, kind: str, **fields: Any) -> None:
        """A non-operation event (a nemesis action, a phase change)."""
        with self._lock:
            self._emit({"type": kind, "time": time.monotonic() - self._t0, **fields})

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def ops(self) -> list[Op]:
        with self._lock:
            return pair_events(list(self.events))


@dataclass(frozen=True)
class FaultWindow:
    """One fault that left a majority connected: from ``start`` to ``end`` (history
    times), ``cut_off`` the gateways (URLs) of the nodes it took away."""

    action: str
    start: float
    end: float
    cut_off: frozenset[str]


def fault_windows(events: list[dict[str, Any]], url_of: Mapping[str, str]) -> list[FaultWindow]:
    """The nemesis notes that name ``cut_off`` nodes, each until the next nemesis note
    (faults come one at a time: the next note is its heal). ``url_of``: node name -> URL."""
    notes = [e for e in events if e.get("type") == "nemesis"]
    out = []
    for i, e in enumerate(notes):
        if "cut_off" in e:
            end = notes[i + 1]["time"] if i + 1 < len(notes) else math.inf
            out.append(FaultWindow(e["action"], e["time"], end, frozenset(url_of[n] for n in e["cut_off"])))
    return out


def pair_events(events: list[dict[str, Any]]) -> list[Op]:
    """One :class:`Op` per invocation; a completion's value replaces the invoked value
    for reads (the invoked value of a write is kept unless the completion names one)."""
    ops: dict[int, Op] = {}
    for e in events:
        kind = e.get("type")
        if kind == "invoke":
            extra = {k: v for k, v in e.items() if k not in ("type", "id", "process", "f", "key", "value", "time")}
            ops[e["id"]] = Op(id=e["id"], process=e["process"], f=e["f"], key=e.get("key"), value=e.get("value"),
                              call=float(e["time"]), extra=extra)
        elif kind in OUTCOMES:
            op = ops.get(e["id"])
            if op is None:
                continue
            op.outcome = kind
            if kind != "info":
                op.ret = float(e["time"])
            if op.f == "read":
                op.value = e.get("value")
            for k, v in e.items():
                if k not in ("type", "id", "value", "time"):
                    op.extra[k] = v
    return sorted(ops.values(), key=lambda o: o.id)


def load_history(path: pathlib.Path | str) -> list[Op]:
    events = [json.loads(line) for line in pathlib.Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return pair_events(events)
