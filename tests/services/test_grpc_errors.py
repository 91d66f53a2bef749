"""vectron.errors -> gRPC status, mapped once (the servicer decorator), and back."""

from __future__ import annotations

from concurrent import futures

import grpc
import pytest

from vectron import errors
from vectron.services.grpc_errors import error_from_rpc_error, grpc_error_boundary, status_code_for


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.InvalidArgument("x", field="f"), grpc.StatusCode.INVALID_ARGUMENT),
        (errors.DimensionMismatch("x"), grpc.StatusCode.INVALID_ARGUMENT),
        (errors.Unauthenticated("x"), grpc.StatusCode.UNAUTHENTICATED),
        (errors.PermissionDenied("x"), grpc.StatusCode.PERMISSION_DENIED),
        (errors.CollectionNotFound("x"), grpc.StatusCode.NOT_FOUND),
        (errors.AlreadyExists("x"), grpc.StatusCode.ALREADY_EXISTS),
        (errors.ResourceExhausted("x"), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (errors.NotLeader("x", leader="10.0.0.1:4321"), grpc.StatusCode.UNAVAILABLE),
        (errors.Indeterminate("x"), grpc.StatusCode.UNKNOWN),
        (errors.StorageError("x"), grpc.StatusCode.INTERNAL),
    ],
)
def test_every_error_round_trips_through_a_real_server(error: errors.VectronError, code: grpc.StatusCode) -> None:
    assert status_code_for(error) == code

    class Servicer:
        @grpc_error_boundary
        def M(self, request: bytes, context: grpc.ServicerContext) -> bytes:
            raise error

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler("t.T", {"M": grpc.unary_unary_rpc_method_handler(Servicer().M)})]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.RpcError) as err:
                channel.unary_unary("/t.T/M")(b"")
        assert err.value.code() == code and err.value.details() == "x"
        rebuilt = error_from_rpc_error(err.value)
        assert type(rebuilt) is type(error) and rebuilt.field == error.field
        if isinstance(error, errors.NotLeader):
            assert rebuilt.leader == "10.0.0.1:4321"
    finally:
        server.stop(None)
