import pytest

from vectron import errors


def test_every_error_has_edge_mappings() -> None:
    import grpc  # the names must be real gRPC status codes

    for cls in errors._all_subclasses(errors.VectronError):
        assert 400 <= cls.http_status < 600
        assert grpc.StatusCode[cls.grpc_code]
        assert cls.code


@pytest.mark.parametrize("cls", errors._all_subclasses(errors.VectronError))
def test_error_round_trips_through_its_code(cls: type[errors.VectronError]) -> None:
    rebuilt = errors.error_from_code(cls.code, "boom", field="x")
    assert type(rebuilt) is cls
    assert rebuilt.message == "boom"


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in errors._all_subclasses(errors.VectronError)]
    assert len(codes) == len(set(codes))


def test_body_names_the_field() -> None:
    err = errors.DimensionMismatch("expected 3 components, got 2", field="vectors")
    assert err.to_dict() == {"code": "dimension_mismatch", "message": "expected 3 components, got 2", "field": "vectors"}
    assert err.http_status == 400 and err.grpc_code == "INVALID_ARGUMENT"
