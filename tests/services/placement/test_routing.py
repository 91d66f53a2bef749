"""The point id -> shard hash is stable: pinned values, and the same in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vectron.errors import InvalidArgument
from vectron.services.placement.routing import HASH_SCHEME, group_by_shard, point_hash, shard_of

# Hard-coded: changing any of these breaks every existing collection's routing.
EXPECTED_3 = {0: 2, 1: 0, 2: 1, 3: 0, 42: 2, 2**64 - 1: 2, "a": 1, "7": 1, "doc-1": 0, "ünï": 2}
EXPECTED_16 = {0: 9, 1: 10, 42: 7, 12345: 3}


def test_scheme_name_is_fixed() -> None:
    assert HASH_SCHEME == "blake2b64-mod-v1"


def test_pinned_mapping() -> None:
    assert {pid: shard_of(pid, 3) for pid in EXPECTED_3} == EXPECTED_3
    assert {pid: shard_of(pid, 16) for pid in EXPECTED_16} == EXPECTED_16


def test_same_mapping_in_another_process_with_another_hash_seed() -> None:
    ids = list(range(50)) + [f"id-{i}" for i in range(50)]
    code = (
        "import json,sys; from vectron.services.placement.routing import shard_of; "
        "ids=json.load(sys.stdin); print(json.dumps([shard_of(i, 7) for i in ids]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps(ids), capture_output=True, text=True, check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert json.loads(out.stdout) == [shard_of(i, 7) for i in ids]


def test_int_and_string_ids_hash_differently() -> None:
    assert point_hash(7) != point_hash("7")


def test_spreads_ids_over_all_shards() -> None:
    groups = group_by_shard(range(3000), 3)
    assert sorted(groups) == [0, 1, 2]
    assert all(800 < len(v) < 1200 for v in groups.values())


@pytest.mark.parametrize("bad", [-1, 2**64, "", 1.5, True, None])
def test_bad_ids_are_refused(bad: object) -> None:
    with pytest.raises(InvalidArgument):
        shard_of(bad, 3)  # type: ignore[arg-type]


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        shard_of(1, 3, "md5")
