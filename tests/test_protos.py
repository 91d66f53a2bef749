"""The generated code in vectron/v1 is exactly what scripts/gen_protos.py produces."""

import filecmp
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_generated_code_is_current(tmp_path: pathlib.Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--out", str(tmp_path)], check=True)
    fresh = tmp_path / "vectron" / "v1"
    committed = ROOT / "vectron" / "v1"
    names = sorted(p.name for p in fresh.iterdir() if p.is_file())
    assert names == sorted(p.name for p in committed.iterdir() if p.is_file() and p.suffix in (".py", ".pyi"))
    match, mismatch, errors = filecmp.cmpfiles(fresh, committed, names, shallow=False)
    assert not mismatch and not errors, f"stale generated code: run `python scripts/gen_protos.py` ({mismatch + errors})"


def test_generated_code_imports() -> None:
    from vectron.v1 import points_pb2

    point = points_pb2.Point(id=points_pb2.PointId(num=7), vector=[0.5, 1.0], payload_json='{"a": 1}')
    assert points_pb2.Point.FromString(point.SerializeToString()) == point
