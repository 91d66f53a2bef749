"""Make the harness package in jepsen-like-tests/ importable as ``jepsen_like``."""

import pathlib
import sys

HARNESS = pathlib.Path(__file__).resolve().parents[2] / "jepsen-like-tests"
if str(HARNESS) not in sys.path:
    sys.path.insert(0, str(HARNESS))
