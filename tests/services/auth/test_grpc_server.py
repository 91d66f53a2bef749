"""The gRPC AuthService on a real server (loopback, free port) over the in-memory Raft runner."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from vectron.errors import AlreadyExists, InvalidArgument
from vectron.services.auth.grpc_server import ACCESS, SERVICE_NAME, Access, AuthServicer
from vectron.services.grpc_errors import error_from_rpc_error
from vectron.services.serving import GrpcServer
from vectron.v1 import auth_pb2, auth_pb2_grpc

PASSWORD = "correct horse battery"


def code_of(call, *args, **kwargs) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as err:
        call(*args, **kwargs)
    return err.value.code()


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def signed_in(stub: auth_pb2_grpc.AuthServiceStub, email: str = "alice@example.com") -> str:
    stub.RegisterUser(auth_pb2.RegisterUserRequest(email=email, password=PASSWORD))
    return stub.Login(auth_pb2.LoginRequest(email=email, password=PASSWORD)).token


def test_access_table_covers_every_rpc_and_opens_only_three() -> None:
    methods = {m.name for m in auth_pb2.DESCRIPTOR.services_by_name["AuthService"].methods}
    assert set(ACCESS) == methods
    assert {m for m, a in ACCESS.items() if a is Access.OPEN} == {"RegisterUser", "Login", "ValidateAPIKey"}


def test_full_flow(stub: auth_pb2_grpc.AuthServiceStub) -> None:
    user = stub.RegisterUser(auth_pb2.RegisterUserRequest(email=" Alice@Example.com", password=PASSWORD)).user
    assert user.email == "alice@example.com"
    login = stub.Login(auth_pb2.LoginRequest(email="alice@example.com", password=PASSWORD))
    assert login.user == user and login.expires_at_ms > 0 and login.token.count(".") == 2
    md = bearer(login.token)
    assert stub.GetUserProfile(auth_pb2.GetUserProfileRequest(), metadata=md).user == user
    created = stub.CreateAPIKey(auth_pb2.CreateAPIKeyRequest(name="ci"), metadata=md)
    assert created.key.startswith(f"vk_{created.info.key_id}_") and created.info.scope == "read-write"
    listed = stub.ListAPIKeys(auth_pb2.ListAPIKeysRequest(), metadata=md).keys
    assert [k.key_id for k in listed] == [created.info.key_id]
    assert all(created.key not in str(k) for k in listed)  # never shown again
    valid = stub.ValidateAPIKey(auth_pb2.ValidateAPIKeyRequest(key=created.key))
    assert (valid.valid, valid.user_id, valid.key_id, valid.plan, valid.scope) == (
        True, user.user_id, created.info.key_id, "free", "read-write")  # the account's plan
    assert valid.limits.requests_per_second == 10
    revoked = stub.RevokeAPIKey(auth_pb2.RevokeAPIKeyRequest(key_id=created.info.key_id), metadata=md).info
    assert revoked.revoked
    assert not stub.ValidateAPIKey(auth_pb2.ValidateAPIKeyRequest(key=created.key)).valid
    stub.Logout(auth_pb2.LogoutRequest(), metadata=md)
    assert code_of(stub.GetUserProfile, auth_pb2.GetUserProfileRequest(), metadata=md) == grpc.StatusCode.UNAUTHENTICATED


def test_session_rpcs_need_a_session_token_never_an_api_key(stub: auth_pb2_grpc.AuthServiceStub) -> None:
    token = signed_in(stub)
    key = stub.CreateAPIKey(auth_pb2.CreateAPIKeyRequest(name="k"), metadata=bearer(token)).key
    calls = [
        (stub.GetUserProfile, auth_pb2.GetUserProfileRequest()),
        (stub.CreateAPIKey, auth_pb2.CreateAPIKeyRequest(name="x")),
        (stub.ListAPIKeys, auth_pb2.ListAPIKeysRequest()),
        (stub.RevokeAPIKey, auth_pb2.RevokeAPIKeyRequest(key_id="abc")),
        (stub.DeleteUser, auth_pb2.DeleteUserRequest()),
        (stub.Logout, auth_pb2.LogoutRequest()),
    ]
    for metadata in (None, bearer(key), [("authorization", token)], bearer("x.y.z"), [("authorization", f"Basic {token}")]):
        for call, request in calls:
            assert code_of(call, request, metadata=metadata) == grpc.StatusCode.UNAUTHENTICATED, (call, metadata)
    # nothing was created or revoked by the refused calls
    keys = stub.ListAPIKeys(auth_pb2.ListAPIKeysRequest(), metadata=bearer(token)).keys
    assert len(keys) == 1 and not keys[0].revoked


def test_bad_input_gets_clear_statuses(stub: auth_pb2_grpc.AuthServiceStub) -> None:
    token = signed_in(stub)
    md = bearer(token)
    S = grpc.StatusCode
    cases = [
        (stub.RegisterUser, auth_pb2.RegisterUserRequest(email="bad", password=PASSWORD), None, S.INVALID_ARGUMENT),
        (stub.RegisterUser, auth_pb2.RegisterUserRequest(email="b@x.io", password="p" * 73), None, S.INVALID_ARGUMENT),
        (stub.RegisterUser, auth_pb2.RegisterUserRequest(email="ALICE@example.com", password=PASSWORD), None, S.ALREADY_EXISTS),
        (stub.Login, auth_pb2.LoginRequest(email="alice@example.com", password="nope-nope"), None, S.UNAUTHENTICATED),
        (stub.AdminSetPlan, auth_pb2.AdminSetPlanRequest(user="alice@example.com", plan="unlimited"), md, S.PERMISSION_DENIED),
        (stub.AdminListUsers, auth_pb2.AdminListUsersRequest(), None, S.UNAUTHENTICATED),
        (stub.CreateAPIKey, auth_pb2.CreateAPIKeyRequest(name="k", scope="root"), md, S.INVALID_ARGUMENT),
        (stub.RevokeAPIKey, auth_pb2.RevokeAPIKeyRequest(key_id="000000000000"), md, S.NOT_FOUND),
        (stub.RevokeAPIKey, auth_pb2.RevokeAPIKeyRequest(key_id=""), md, S.INVALID_ARGUMENT),
        (stub.ValidateAPIKey, auth_pb2.ValidateAPIKeyRequest(key=""), None, S.INVALID_ARGUMENT),
    ]
    for call, request, metadata, expected in cases:
        assert code_of(call, request, metadata=metadata) == expected, request
    assert stub.ListAPIKeys(auth_pb2.ListAPIKeysRequest(), metadata=md).keys == []
    # the error's code and field travel in the trailers and rebuild the same error
    with pytest.raises(grpc.RpcError) as err:
        stub.RegisterUser(auth_pb2.RegisterUserRequest(email="b@x.io", password="short"))
    rebuilt = error_from_rpc_error(err.value)
    assert isinstance(rebuilt, InvalidArgument) and rebuilt.field == "password"
    with pytest.raises(grpc.RpcError) as err:
        stub.RegisterUser(auth_pb2.RegisterUserRequest(email="alice@example.com", password=PASSWORD))
    assert isinstance(error_from_rpc_error(err.value), AlreadyExists)


def test_login_throttle_over_grpc(stub: auth_pb2_grpc.AuthServiceStub) -> None:
    signed_in(stub)
    for _ in range(5):
        assert code_of(stub.Login, auth_pb2.LoginRequest(email="alice@example.com", password="wrong-pass")) == (
            grpc.StatusCode.UNAUTHENTICATED)
    with pytest.raises(grpc.RpcError) as err:
        stub.Login(auth_pb2.LoginRequest(email="alice@example.com", password=PASSWORD))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "too many failed logins" in err.value.details()
    assert 0 < float(dict(err.value.trailing_metadata())["retry-after"]) <= 60


def test_health_and_reflection(grpc_server: GrpcServer) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{grpc_server.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", SERVICE_NAME):
            assert health.Check(health_pb2.HealthCheckRequest(service=name)).status == health_pb2.HealthCheckResponse.SERVING
        grpc_server.set_serving(False)
        assert health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME)).status == (
            health_pb2.HealthCheckResponse.NOT_SERVING)
        refl = reflection_pb2_grpc.ServerReflectionStub(channel)
        answers = list(refl.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
        names = {s.name for s in answers[0].list_services_response.service}
        assert SERVICE_NAME in names and "grpc.health.v1.Health" in names


def test_unexpected_exceptions_become_internal_without_details(grpc_server: GrpcServer, service) -> None:
    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    service.validate_api_key = boom  # type: ignore[method-assign]
    with grpc.insecure_channel(f"127.0.0.1:{grpc_server.port}") as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.ValidateAPIKey(auth_pb2.ValidateAPIKeyRequest(key="vk_x"))
    assert err.value.code() == grpc.StatusCode.INTERNAL and "secret" not in (err.value.details() or "")


def test_servicer_refuses_to_start_with_an_rpc_missing_from_the_table(service, monkeypatch) -> None:
    monkeypatch.delitem(ACCESS, "ListAPIKeys")
    with pytest.raises(RuntimeError, match="ListAPIKeys"):
        AuthServicer(service)
