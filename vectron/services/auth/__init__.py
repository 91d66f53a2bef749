"""The auth service: users, sessions (JWT) and API keys in an FSM on its own Raft group.

Layers, bottom up: ``storage`` (LMDB tables and indexes), ``commands`` (the
stateless dispatcher of ``AuthCommand``), ``fsm`` (the state machine),
``service`` (:class:`AuthService`, the internal API shared by gRPC and REST),
``grpc_server`` (the thin servicer, the access table and :func:`serve_auth`).
"""

from vectron.services.auth.api_keys import ApiKeyCache
from vectron.services.auth.fsm import AuthStateMachine
from vectron.services.auth.model import PLANS, SCOPES, ApiKeyInfo, CreatedKey, KeyValidation, LoginResult, Plan, Session, User
from vectron.services.auth.service import AuthConfig, AuthService
from vectron.services.auth.sessions import TokenIssuer, load_secret

__all__ = [
    "PLANS",
    "SCOPES",
    "ApiKeyCache",
    "ApiKeyInfo",
    "AuthConfig",
    "AuthService",
    "AuthStateMachine",
    "CreatedKey",
    "KeyValidation",
    "LoginResult",
    "Plan",
    "Session",
    "TokenIssuer",
    "User",
    "load_secret",
]
