"""vectron.log_limits: a flood of one warning is cut to a burst per window, and says what it dropped."""

from __future__ import annotations

import logging

from vectron.log_limits import RepeatFilter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _record(msg: str, level: int = logging.WARNING, *args: object) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.error", level, __file__, 1, msg, args, None)


def test_repeated_warnings_are_cut_and_the_drop_is_reported() -> None:
    clock = Clock()
    flt = RepeatFilter(burst=3, window=60, clock=clock)
    passed = [flt.filter(_record("Invalid HTTP request received.")) for _ in range(1000)]
    assert passed.count(True) == 3
    assert flt.filter(_record("another message"))  # other messages have their own budget
    assert all(flt.filter(_record("debug chatter", logging.INFO)) for _ in range(100))  # below WARNING: untouched
    clock.now += 61
    rec = _record("Invalid HTTP request received.")
    assert flt.filter(rec) and "997 similar message(s) dropped" in rec.getMessage()


def test_the_message_template_groups_records_whatever_their_arguments() -> None:
    flt = RepeatFilter(burst=2, window=60, clock=Clock())
    passed = [flt.filter(_record("bad request from %s", logging.WARNING, f"10.0.0.{i}")) for i in range(50)]
    assert passed.count(True) == 2
