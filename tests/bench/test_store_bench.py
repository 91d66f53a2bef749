"""Smoke test of bench/store_bench.py: a tiny run completes and writes its report. No timing assertions."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_store_bench_quick_run_completes(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "store_bench.py"), "--quick", "--n", "2000", "--queries", "50",
         "--filter-queries", "20", "--efs", "16,64", "--budget", "2", "--workdir", str(tmp_path / "work"), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "| engine | ef | recall@10 | single-query QPS | batch QPS |" in proc.stdout
    assert "| target |" in proc.stdout
    doc = json.loads(out.read_text())
    results = doc["results"]
    assert {"hnswlib", "store", "brute"} <= set(results)
    assert doc["meta"]["n"] == 2000
    for engine in ("hnswlib", "store"):
        assert set(results[engine]["search"]) == {"16", "64"}  # JSON keys
        for m in results[engine]["search"].values():
            assert 0.0 <= m["recall"] <= 1.0 and m["single_qps"] > 0 and m["batch_qps"] > 0
    assert results["brute"]["search"]["exact"]["recall"] == 1.0
    store = results["store"]
    assert store["payload_check"] is True
    assert store["reopen_count"] == 2000 and store["reopen_s"] > 0
    assert set(store["filtered"]) == {"50%", "10%", "1%", "0.1%"}
    assert {t["target"] for t in doc["targets"]} >= {"reopen time vs build time", "batch search QPS vs raw hnswlib"}
    assert all(isinstance(t["pass"], bool) for t in doc["targets"])
