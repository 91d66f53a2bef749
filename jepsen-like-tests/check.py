#!/usr/bin/env python3
"""Re-check the register linearizability of saved histories (offline; the other
checkers need the final reads, which are checked during the run):

    python jepsen-like-tests/check.py jepsen-like-tests/store/*/history.jsonl
"""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from jepsen_like.checkers import check_linearizable_registers
from jepsen_like.history import load_history


def main(paths: list[str]) -> int:
    bad = 0
    for path in paths:
        res = check_linearizable_registers(load_history(path))
        print(f"{path}: {res.line()}")
        for p in res.problems:
            print(f"    {p}")
        bad += not res.valid
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
