"""A small client of the gRPC AuthService for other services (the gateway).

Calls any of the auth nodes given, moving to the next one when a node is
unavailable; errors come back as the same vectron.errors the server raised.
``AuthClient.validate_api_key`` fits :class:`~vectron.services.auth.api_keys.ApiKeyCache`::

    client = AuthClient(["127.0.0.1:7501", "127.0.0.1:7502", "127.0.0.1:7503"])
    keys = ApiKeyCache(client.validate_api_key, ttl=5.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vectron.services.auth.model import ApiKeyInfo, CreatedKey, KeyValidation, LoginResult, User
from vectron.services.failover import FailoverStubs
from vectron.v1 import auth_pb2, auth_pb2_grpc

__all__ = ["AuthClient"]


class AuthClient:
    def __init__(self, addresses: Sequence[str], *, timeout: float = 10.0) -> None:
        self._nodes = FailoverStubs(addresses, auth_pb2_grpc.AuthServiceStub, timeout=timeout, what="auth")
        self._call = self._nodes.call

    def close(self) -> None:
        self._nodes.close()

    def __enter__(self) -> AuthClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _md(token: str) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {token}")]

    def register_user(self, email: str, password: str, client_address: str = "") -> User:
        req = auth_pb2.RegisterUserRequest(email=email, password=password, client_address=client_address)
        return User.from_proto(self._call(lambda s, t: s.RegisterUser(req, timeout=t), idempotent=False).user)

    def login(self, email: str, password: str, client_address: str = "") -> LoginResult:
        req = auth_pb2.LoginRequest(email=email, password=password, client_address=client_address)
        r = self._call(lambda s, t: s.Login(req, timeout=t))
        return LoginResult(token=r.token, expires_at_ms=r.expires_at_ms, user=User.from_proto(r.user))

    def get_user_profile(self, token: str) -> User:
        req = auth_pb2.GetUserProfileRequest()
        return User.from_proto(self._call(lambda s, t: s.GetUserProfile(req, metadata=self._md(token), timeout=t)).user)

    def logout(self, token: str) -> None:
        req = auth_pb2.LogoutRequest()
        self._call(lambda s, t: s.Logout(req, metadata=self._md(token), timeout=t), idempotent=False)

    def delete_user(self, token: str) -> None:
        req = auth_pb2.DeleteUserRequest()
        self._call(lambda s, t: s.DeleteUser(req, metadata=self._md(token), timeout=t), idempotent=False)

    def create_api_key(self, token: str, name: str, scope: str = "") -> CreatedKey:
        req = auth_pb2.CreateAPIKeyRequest(name=name, scope=scope)
        r = self._call(lambda s, t: s.CreateAPIKey(req, metadata=self._md(token), timeout=t), idempotent=False)
        return CreatedKey(key=r.key, info=ApiKeyInfo.from_proto(r.info))

    def list_api_keys(self, token: str) -> list[ApiKeyInfo]:
        req = auth_pb2.ListAPIKeysRequest()
        r = self._call(lambda s, t: s.ListAPIKeys(req, metadata=self._md(token), timeout=t))
        return [ApiKeyInfo.from_proto(k) for k in r.keys]

    def revoke_api_key(self, token: str, key_id: str) -> ApiKeyInfo:
        req = auth_pb2.RevokeAPIKeyRequest(key_id=key_id)
        return ApiKeyInfo.from_proto(self._call(lambda s, t: s.RevokeAPIKey(req, metadata=self._md(token), timeout=t), idempotent=False).info)

    def validate_api_key(self, key: str) -> KeyValidation:
        req = auth_pb2.ValidateAPIKeyRequest(key=key)
        r: Any = self._call(lambda s, t: s.ValidateAPIKey(req, timeout=t))
        if not r.valid:
            return KeyValidation(valid=False, disabled=r.disabled)
        info = ApiKeyInfo.from_proto(
            auth_pb2.APIKeyInfo(key_id=r.key_id, user_id=r.user_id, plan=r.plan, limits=r.limits, scope=r.scope)
        )
        return KeyValidation(valid=True, user_id=r.user_id, key_id=r.key_id, plan=info.plan, scope=r.scope)

    # -- admin (the session of an admin) ------------------------------------------------
    def admin_list_users(self, token: str, after: str = "", limit: int = 0) -> tuple[list[User], str]:
        req = auth_pb2.AdminListUsersRequest(after=after, limit=limit)
        r = self._call(lambda s, t: s.AdminListUsers(req, metadata=self._md(token), timeout=t))
        return [User.from_proto(u) for u in r.users], r.next_after

    def admin_set_plan(self, token: str, user: str, plan: str) -> User:
        req = auth_pb2.AdminSetPlanRequest(user=user, plan=plan)
        return User.from_proto(self._call(lambda s, t: s.AdminSetPlan(req, metadata=self._md(token), timeout=t)).user)

    def admin_set_disabled(self, token: str, user: str, disabled: bool) -> User:
        req = auth_pb2.AdminSetDisabledRequest(user=user, disabled=disabled)
        return User.from_proto(self._call(lambda s, t: s.AdminSetDisabled(req, metadata=self._md(token), timeout=t)).user)

    def admin_delete_user(self, token: str, user: str) -> User:
        req = auth_pb2.AdminDeleteUserRequest(user=user)
        r = self._call(lambda s, t: s.AdminDeleteUser(req, metadata=self._md(token), timeout=t), idempotent=False)
        return User.from_proto(r.user)
