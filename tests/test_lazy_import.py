"""``import vectron`` is cheap: the heavy dependencies load only when a public name is used."""

import subprocess
import sys

import pytest

HEAVY = ("numpy", "hnswlib", "lmdb", "httpx")


def loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout.split()
    return {name for name in HEAVY if name in out}


def test_import_vectron_loads_no_heavy_dependency() -> None:
    assert loaded_after("import vectron") == set()


def test_import_vectron_raft_loads_no_vector_or_http_dependency() -> None:
    # lmdb is Raft's own (its FSM helper keeps state in LMDB); vectors and HTTP are not.
    assert loaded_after("import vectron.raft") - {"lmdb"} == set()


def test_public_names_still_work(tmp_path) -> None:
    import vectron

    assert {"numpy", "hnswlib", "lmdb"} <= loaded_after("import vectron\nvectron.open")
    assert "httpx" in loaded_after("import vectron\nvectron.Client")
    with vectron.open(tmp_path) as store:
        assert isinstance(store, vectron.Store)
        col = store.create_collection("c", dimension=2)
        assert isinstance(col, vectron.Collection)
        col.upsert([1], [[1.0, 0.0]])
        hit = col.search([1.0, 0.0], k=1)[0]
        assert isinstance(hit, vectron.ScoredPoint) and hit.id == 1
    assert issubclass(vectron.errors.InvalidArgument, Exception)
    assert set(vectron.__all__) <= set(dir(vectron))


def test_unknown_attribute_is_an_attribute_error() -> None:
    import vectron

    with pytest.raises(AttributeError):
        vectron.no_such_name  # noqa: B018
