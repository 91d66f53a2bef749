"""Regenerate the Python code in vectron/v1/ from proto/vectron/v1/*.proto.

    python scripts/gen_protos.py            # rewrite vectron/v1/
    python scripts/gen_protos.py --out DIR  # write into DIR instead (the stale-check test uses this)

Generated files are never edited by hand; tests/test_protos.py fails when they
differ from what this script produces.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
INIT_TEXT = '"""Generated from proto/vectron/v1 by scripts/gen_protos.py. Do not edit."""\n'


def generate(out_dir: pathlib.Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in (PROTO_DIR / "vectron" / "v1").glob("*.proto"))
    target = out_dir / "vectron" / "v1"
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*_pb2*.py*"):
        old.unlink()
    include = str(pathlib.Path(protoc.__file__).parent / "_proto")
    args = [
        "protoc",
        f"-I{PROTO_DIR}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    (target / "__init__.py").write_text(INIT_TEXT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=pathlib.Path, default=ROOT, help="root to write vectron/v1/ under")
    generate(parser.parse_args().out)


if __name__ == "__main__":
    sys.exit(main())
