"""Smoke test of bench/filter_bench.py: a tiny run completes (the bench asserts the automatic
index and the scan find the same hits) and prints one row per selectivity. No timing assertions."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_filter_bench_small_run_completes() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "filter_bench.py"), "--n", "3000", "--queries", "5", "--scan-queries", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ") and "%" in line.split("|")[1]]
    assert [r.split("|")[1].strip() for r in rows] == ["50%", "10%", "1%", "0.1%"]
    assert "automatic indexes built: {'s01': 'float', 's1': 'float', 's10': 'float', 's50': 'float'}" in proc.stdout
