"""The gRPC edge of the auth service: a thin servicer over :class:`AuthService`.

Which RPC is open and which needs a session token is decided here, once, in
:data:`ACCESS`. A method missing from the table makes the servicer refuse to
start (fail closed). Session RPCs read ``authorization: Bearer <jwt>`` from the
call metadata; an API key there is refused (account RPCs never take API keys).
Errors are mapped to gRPC statuses by :mod:`vectron.services.grpc_errors`.
"""

from __future__ import annotations

import enum
import functools
import logging
from collections.abc import Callable
from typing import Any

import grpc

from vectron.errors import Unauthenticated
from vectron.services.auth.model import Session
from vectron.services.auth.service import AuthService
from vectron.services.grpc_errors import grpc_error_boundary
from vectron.v1 import auth_pb2, auth_pb2_grpc

__all__ = ["Access", "ACCESS", "SERVICE_NAME", "AuthServicer", "bearer_token"]

log = logging.getLogger(__name__)

SERVICE_NAME = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name


class Access(enum.Enum):
    OPEN = "open"  # no credentials
    SESSION = "session"  # a session JWT in `authorization: Bearer <jwt>`


#: THE table deciding which RPCs need a session token.
ACCESS: dict[str, Access] = {
    "RegisterUser": Access.OPEN,
    "Login": Access.OPEN,
    "ValidateAPIKey": Access.OPEN,
    "GetUserProfile": Access.SESSION,
    "DeleteUser": Access.SESSION,
    "Logout": Access.SESSION,
    "CreateAPIKey": Access.SESSION,
    "ListAPIKeys": Access.SESSION,
    "RevokeAPIKey": Access.SESSION,
    # a session whose email is one of the admins' (checked by AuthService.require_admin)
    "AdminListUsers": Access.SESSION,
    "AdminSetPlan": Access.SESSION,
    "AdminSetDisabled": Access.SESSION,
    "AdminDeleteUser": Access.SESSION,
}


def bearer_token(metadata: Any) -> str:
    """The JWT in ``authorization: Bearer <jwt>`` call metadata; raise Unauthenticated otherwise."""
    values = [v for k, v in (metadata or ()) if k.lower() == "authorization"]
    if not values:
        raise Unauthenticated("a session token is required (metadata authorization: Bearer <jwt>)")
    scheme, _, token = str(values[0]).strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("the authorization metadata must read: Bearer <jwt>")
    if token.startswith("vk_"):
        raise Unauthenticated("account operations take a session token (log in), not an API key")
    return token


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    """Each ``_rpc_<Name>(request, session)`` is wrapped, per :data:`ACCESS`, into the
    ``<Name>(request, context)`` method gRPC calls: authentication first (for
    session RPCs), then the call, with errors mapped to statuses."""

    def __init__(self, service: AuthService) -> None:
        self.service = service
        for method in auth_pb2.DESCRIPTOR.services_by_name["AuthService"].methods:
            access = ACCESS.get(method.name)
            impl = getattr(self, f"_rpc_{method.name}", None)
            if access is None or impl is None:
                raise RuntimeError(f"AuthService.{method.name} has no access rule or implementation")
            setattr(self, method.name, self._guard(method.name, access, impl))

    def _guard(
        self, name: str, access: Access, impl: Callable[[Any, Session | None], Any]
    ) -> Callable[[Any, grpc.ServicerContext], Any]:
        service = self.service

        @grpc_error_boundary
        def call(_self: Any, request: Any, context: grpc.ServicerContext) -> Any:
            session = service.authenticate(bearer_token(context.invocation_metadata())) if access is Access.SESSION else None
            return impl(request, session)

        return functools.partial(call, self)

    # -- open -------------------------------------------------------------------------
    def _rpc_RegisterUser(self, request: auth_pb2.RegisterUserRequest, session: None) -> auth_pb2.RegisterUserResponse:
        user = self.service.register_user(request.email, request.password, request.client_address)
        return auth_pb2.RegisterUserResponse(user=user.to_proto())

    def _rpc_Login(self, request: auth_pb2.LoginRequest, session: None) -> auth_pb2.LoginResponse:
        result = self.service.login(request.email, request.password, request.client_address)
        return auth_pb2.LoginResponse(token=result.token, expires_at_ms=result.expires_at_ms, user=result.user.to_proto())

    def _rpc_ValidateAPIKey(self, request: auth_pb2.ValidateAPIKeyRequest, session: None) -> auth_pb2.ValidateAPIKeyResponse:
        return self.service.validate_api_key(request.key).to_proto()

    # -- session ----------------------------------------------------------------------
    def _rpc_GetUserProfile(self, request: auth_pb2.GetUserProfileRequest, session: Session) -> auth_pb2.GetUserProfileResponse:
        return auth_pb2.GetUserProfileResponse(user=self.service.get_user_profile(session).to_proto())

    def _rpc_DeleteUser(self, request: auth_pb2.DeleteUserRequest, session: Session) -> auth_pb2.DeleteUserResponse:
        self.service.delete_user(session)
        return auth_pb2.DeleteUserResponse()

    def _rpc_Logout(self, request: auth_pb2.LogoutRequest, session: Session) -> auth_pb2.LogoutResponse:
        self.service.logout(session)
        return auth_pb2.LogoutResponse()

    def _rpc_CreateAPIKey(self, request: auth_pb2.CreateAPIKeyRequest, session: Session) -> auth_pb2.CreateAPIKeyResponse:
        created = self.service.create_api_key(session, request.name, request.scope)
        return auth_pb2.CreateAPIKeyResponse(key=created.key, info=created.info.to_proto())

    def _rpc_ListAPIKeys(self, request: auth_pb2.ListAPIKeysRequest, session: Session) -> auth_pb2.ListAPIKeysResponse:
        return auth_pb2.ListAPIKeysResponse(keys=[k.to_proto() for k in self.service.list_api_keys(session)])

    def _rpc_RevokeAPIKey(self, request: auth_pb2.RevokeAPIKeyRequest, session: Session) -> auth_pb2.RevokeAPIKeyResponse:
        return auth_pb2.RevokeAPIKeyResponse(info=self.service.revoke_api_key(session, request.key_id).to_proto())

    # -- admin ------------------------------------------------------------------------
    def _rpc_AdminListUsers(self, request: auth_pb2.AdminListUsersRequest, session: Session) -> auth_pb2.AdminListUsersResponse:
        users, after = self.service.admin_list_users(session, request.after, request.limit)
        return auth_pb2.AdminListUsersResponse(users=[u.to_proto() for u in users], next_after=after)

    def _rpc_AdminSetPlan(self, request: auth_pb2.AdminSetPlanRequest, session: Session) -> auth_pb2.AdminUserResponse:
        return auth_pb2.AdminUserResponse(user=self.service.admin_set_plan(session, request.user, request.plan).to_proto())

    def _rpc_AdminSetDisabled(self, request: auth_pb2.AdminSetDisabledRequest, session: Session) -> auth_pb2.AdminUserResponse:
        return auth_pb2.AdminUserResponse(user=self.service.admin_set_disabled(session, request.user, request.disabled).to_proto())

    def _rpc_AdminDeleteUser(self, request: auth_pb2.AdminDeleteUserRequest, session: Session) -> auth_pb2.AdminUserResponse:
        return auth_pb2.AdminUserResponse(user=self.service.admin_delete_user(session, request.user).to_proto())
