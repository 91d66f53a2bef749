"""A writer killed with SIGKILL mid-stream: every acknowledged batch is whole, none is half applied."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import vectron

BATCH = 200
WRITER = textwrap.dedent(
    """
    import sys, numpy as np, vectron
    store = vectron.open(sys.argv[1])
    col = store.collection("c") if "c" in store.list_collections() else store.create_collection("c", dimension=16)
    rng = np.random.default_rng(int(sys.argv[2]))
    batch = int(sys.argv[3])
    while True:
        ids = list(range(batch * {n}, (batch + 1) * {n}))
        col.upsert(ids, rng.normal(size=({n}, 16)), [{{"batch": batch, "i": i}} for i in ids])
        print(batch, flush=True)  # acknowledged
        batch += 1
    """
).format(n=BATCH)


@pytest.mark.parametrize("round_", range(3))
def test_kill_minus_nine_never_leaves_a_half_batch(tmp_path, round_) -> None:
    acked: list[int] = []
    next_batch = 0
    for attempt in range(2):  # crash twice in a row on the same folder
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), str(round_ * 10 + attempt), str(next_batch)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            wanted = 3 + round_ + attempt
            while len(acked) < wanted + next_batch and proc.poll() is None:
                line = proc.stdout.readline()
                if line:
                    acked.append(int(line))
            time.sleep(0.01 * round_)  # land the kill at different points of the next batch
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            acked.extend(int(line) for line in proc.stdout.read().split())
        finally:
            if proc.poll() is None:
                proc.kill()
        next_batch = max(acked) + 2  # the batch after the last ack may or may not have landed
    with vectron.open(tmp_path) as store:
        col = store.collection("c")
        records, _ = col.scroll(limit=10_000)
        sizes: dict[int, int] = {}
        for record in records:
            assert record.payload["i"] == record.id
            sizes[record.payload["batch"]] = sizes.get(record.payload["batch"], 0) + 1
        assert all(size == BATCH for size in sizes.values()), sizes
        assert set(acked) <= set(sizes)
        assert col.count() == len(records)
        assert len(col.search([0.1] * 16, k=5)) == 5
