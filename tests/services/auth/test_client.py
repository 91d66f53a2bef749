"""AuthClient against a real gRPC server, failing over from a dead address."""

from __future__ import annotations

import pytest

from vectron.errors import AlreadyExists, Unauthenticated
from vectron.services.auth import ApiKeyCache
from vectron.services.auth.client import AuthClient
from vectron.services.serving import GrpcServer

from .cluster import free_ports


def test_client_round_trip_with_failover(grpc_server: GrpcServer) -> None:
    dead = f"127.0.0.1:{free_ports(1)[0]}"
    with AuthClient([dead, f"127.0.0.1:{grpc_server.port}"]) as client:
        user = client.register_user("alice@example.com", "correct horse battery")
        with pytest.raises(AlreadyExists):
            client.register_user("alice@example.com", "correct horse battery")
        token = client.login("alice@example.com", "correct horse battery").token
        assert client.get_user_profile(token) == user
        created = client.create_api_key(token, "k", scope="read-only")
        assert [k.key_id for k in client.list_api_keys(token)] == [created.info.key_id]
        cache = ApiKeyCache(client.validate_api_key, ttl=5.0)
        check = cache.get(created.key)
        assert check.valid and check.user_id == user.user_id and check.plan == created.info.plan and check.scope == "read-only"
        assert client.revoke_api_key(token, created.info.key_id).revoked
        assert not client.validate_api_key(created.key).valid
        with pytest.raises(Unauthenticated):
            client.get_user_profile(created.key)
        client.logout(token)
        with pytest.raises(Unauthenticated):
            client.list_api_keys(token)
        token = client.login("alice@example.com", "correct horse battery").token
        client.delete_user(token)
        with pytest.raises(Unauthenticated):
            client.login("alice@example.com", "correct horse battery")
