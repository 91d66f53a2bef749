"""vectron.limits: the payload size rule (UTF-8 bytes of compact JSON), names, integers, distances."""

from __future__ import annotations

import ast
import pathlib
import sys

import pytest

import vectron.limits
from vectron.errors import InvalidArgument, PayloadTooLarge
from vectron.limits import MAX_PAYLOAD_BYTES, Distance, check_int, check_name, dump_payload


def test_payload_size_is_utf8_bytes_not_escaped_json() -> None:
    # 2 bytes each in UTF-8, 6 ("\u00e9") in ASCII-escaped JSON: under the limit only when measured in UTF-8
    text = dump_payload({"t": "é" * (MAX_PAYLOAD_BYTES // 2 - 16)})
    assert "é" in text and len(text.encode("utf-8")) <= MAX_PAYLOAD_BYTES
    with pytest.raises(PayloadTooLarge) as err:
        dump_payload({"t": "é" * (MAX_PAYLOAD_BYTES // 2)}, "points[3].payload")
    assert err.value.field == "points[3].payload"


@pytest.mark.parametrize("bad", [[1], "x", {"x": float("nan")}, {"x": object()}])
def test_payload_must_be_a_json_object(bad: object) -> None:
    with pytest.raises(InvalidArgument) as err:
        dump_payload(bad, "payload")
    assert err.value.field == "payload"


def test_names_and_integers() -> None:
    assert check_name("a.b-c_1") == "a.b-c_1"
    for bad in ("", "-x", "a" * 129, "a b", 3):
        with pytest.raises(InvalidArgument):
            check_name(bad)
    assert check_int(5, "k", 1, 10) == 5
    for bad in (True, 0, 11, 2.0, "3"):
        with pytest.raises(InvalidArgument) as err:
            check_int(bad, "k", 1, 10)
        assert err.value.field == "k"


def test_distance_order() -> None:
    assert Distance("cosine").higher_is_better and Distance.DOT.higher_is_better
    assert not Distance.EUCLID.higher_is_better


def test_limits_imports_nothing_heavy() -> None:
    """Every layer may import vectron.limits: it imports only the standard library and vectron.errors."""
    tree = ast.parse(pathlib.Path(vectron.limits.__file__).read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert names - {"vectron.errors", "__future__"} <= set(sys.stdlib_module_names), names
