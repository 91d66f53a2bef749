"""Smoke test of bench/filter_delete_bench.py: a tiny run completes, and the indexed and
unindexed copies of the field agree on every count and delete. No timing assertions."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_filter_delete_bench_small_run_completes() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "filter_delete_bench.py"), "--n", "3000", "--buckets", "50"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]  # the bench asserts both paths found the same points
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| match") or line.startswith("| range")]
    assert len(rows) == 4
