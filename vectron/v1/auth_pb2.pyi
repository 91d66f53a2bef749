from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class User(_message.Message):
    __slots__ = ("user_id", "email", "created_at_ms", "plan", "disabled")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    email: str
    created_at_ms: int
    plan: str
    disabled: bool
    def __init__(self, user_id: _Optional[str] = ..., email: _Optional[str] = ..., created_at_ms: _Optional[int] = ..., plan: _Optional[str] = ..., disabled: _Optional[bool] = ...) -> None: ...

class PlanLimits(_message.Message):
    __slots__ = ("requests_per_second", "max_collections", "max_points", "max_dimension")
    REQUESTS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    MAX_COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_POINTS_FIELD_NUMBER: _ClassVar[int]
    MAX_DIMENSION_FIELD_NUMBER: _ClassVar[int]
    requests_per_second: int
    max_collections: int
    max_points: int
    max_dimension: int
    def __init__(self, requests_per_second: _Optional[int] = ..., max_collections: _Optional[int] = ..., max_points: _Optional[int] = ..., max_dimension: _Optional[int] = ...) -> None: ...

class APIKeyInfo(_message.Message):
    __slots__ = ("key_id", "user_id", "name", "plan", "limits", "scope", "created_at_ms", "revoked", "revoked_at_ms")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    user_id: str
    name: str
    plan: str
    limits: PlanLimits
    scope: str
    created_at_ms: int
    revoked: bool
    revoked_at_ms: int
    def __init__(self, key_id: _Optional[str] = ..., user_id: _Optional[str] = ..., name: _Optional[str] = ..., plan: _Optional[str] = ..., limits: _Optional[_Union[PlanLimits, _Mapping]] = ..., scope: _Optional[str] = ..., created_at_ms: _Optional[int] = ..., revoked: _Optional[bool] = ..., revoked_at_ms: _Optional[int] = ...) -> None: ...

class RegisterUserRequest(_message.Message):
    __slots__ = ("email", "password", "client_address")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    email: str
    password: str
    client_address: str
    def __init__(self, email: _Optional[str] = ..., password: _Optional[str] = ..., client_address: _Optional[str] = ...) -> None: ...

class RegisterUserResponse(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: User
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ...) -> None: ...

class LoginRequest(_message.Message):
    __slots__ = ("email", "password", "client_address")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    email: str
    password: str
    client_address: str
    def __init__(self, email: _Optional[str] = ..., password: _Optional[str] = ..., client_address: _Optional[str] = ...) -> None: ...

class LoginResponse(_message.Message):
    __slots__ = ("token", "expires_at_ms", "user")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    token: str
    expires_at_ms: int
    user: User
    def __init__(self, token: _Optional[str] = ..., expires_at_ms: _Optional[int] = ..., user: _Optional[_Union[User, _Mapping]] = ...) -> None: ...

class GetUserProfileRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetUserProfileResponse(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: User
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ...) -> None: ...

class DeleteUserRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteUserResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LogoutRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LogoutResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateAPIKeyRequest(_message.Message):
    __slots__ = ("name", "scope")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    scope: str
    def __init__(self, name: _Optional[str] = ..., scope: _Optional[str] = ...) -> None: ...

class CreateAPIKeyResponse(_message.Message):
    __slots__ = ("key", "info")
    KEY_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    key: str
    info: APIKeyInfo
    def __init__(self, key: _Optional[str] = ..., info: _Optional[_Union[APIKeyInfo, _Mapping]] = ...) -> None: ...

class ListAPIKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAPIKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[APIKeyInfo]
    def __init__(self, keys: _Optional[_Iterable[_Union[APIKeyInfo, _Mapping]]] = ...) -> None: ...

class RevokeAPIKeyRequest(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class RevokeAPIKeyResponse(_message.Message):
    __slots__ = ("info",)
    INFO_FIELD_NUMBER: _ClassVar[int]
    info: APIKeyInfo
    def __init__(self, info: _Optional[_Union[APIKeyInfo, _Mapping]] = ...) -> None: ...

class ValidateAPIKeyRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class ValidateAPIKeyResponse(_message.Message):
    __slots__ = ("valid", "user_id", "key_id", "plan", "limits", "scope", "disabled")
    VALID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    user_id: str
    key_id: str
    plan: str
    limits: PlanLimits
    scope: str
    disabled: bool
    def __init__(self, valid: _Optional[bool] = ..., user_id: _Optional[str] = ..., key_id: _Optional[str] = ..., plan: _Optional[str] = ..., limits: _Optional[_Union[PlanLimits, _Mapping]] = ..., scope: _Optional[str] = ..., disabled: _Optional[bool] = ...) -> None: ...

class AdminListUsersRequest(_message.Message):
    __slots__ = ("after", "limit")
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    after: str
    limit: int
    def __init__(self, after: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class AdminListUsersResponse(_message.Message):
    __slots__ = ("users", "next_after")
    USERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_AFTER_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedCompositeFieldContainer[User]
    next_after: str
    def __init__(self, users: _Optional[_Iterable[_Union[User, _Mapping]]] = ..., next_after: _Optional[str] = ...) -> None: ...

class AdminSetPlanRequest(_message.Message):
    __slots__ = ("user", "plan")
    USER_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    user: str
    plan: str
    def __init__(self, user: _Optional[str] = ..., plan: _Optional[str] = ...) -> None: ...

class AdminSetDisabledRequest(_message.Message):
    __slots__ = ("user", "disabled")
    USER_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    user: str
    disabled: bool
    def __init__(self, user: _Optional[str] = ..., disabled: _Optional[bool] = ...) -> None: ...

class AdminDeleteUserRequest(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: str
    def __init__(self, user: _Optional[str] = ...) -> None: ...

class AdminUserResponse(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: User
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ...) -> None: ...

class UserRecord(_message.Message):
    __slots__ = ("user_id", "email", "password_hash", "created_at_ms", "plan", "disabled")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_HASH_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    email: str
    password_hash: str
    created_at_ms: int
    plan: str
    disabled: bool
    def __init__(self, user_id: _Optional[str] = ..., email: _Optional[str] = ..., password_hash: _Optional[str] = ..., created_at_ms: _Optional[int] = ..., plan: _Optional[str] = ..., disabled: _Optional[bool] = ...) -> None: ...

class APIKeyRecord(_message.Message):
    __slots__ = ("info", "secret_sha256")
    INFO_FIELD_NUMBER: _ClassVar[int]
    SECRET_SHA256_FIELD_NUMBER: _ClassVar[int]
    info: APIKeyInfo
    secret_sha256: bytes
    def __init__(self, info: _Optional[_Union[APIKeyInfo, _Mapping]] = ..., secret_sha256: _Optional[bytes] = ...) -> None: ...

class CreateUserCmd(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: UserRecord
    def __init__(self, user: _Optional[_Union[UserRecord, _Mapping]] = ...) -> None: ...

class DeleteUserCmd(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class CreateKeyCmd(_message.Message):
    __slots__ = ("key", "max_keys_per_user")
    KEY_FIELD_NUMBER: _ClassVar[int]
    MAX_KEYS_PER_USER_FIELD_NUMBER: _ClassVar[int]
    key: APIKeyRecord
    max_keys_per_user: int
    def __init__(self, key: _Optional[_Union[APIKeyRecord, _Mapping]] = ..., max_keys_per_user: _Optional[int] = ...) -> None: ...

class RevokeKeyCmd(_message.Message):
    __slots__ = ("user_id", "key_id", "revoked_at_ms")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    key_id: str
    revoked_at_ms: int
    def __init__(self, user_id: _Optional[str] = ..., key_id: _Optional[str] = ..., revoked_at_ms: _Optional[int] = ...) -> None: ...

class SetUserPlanCmd(_message.Message):
    __slots__ = ("user_id", "plan")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    plan: str
    def __init__(self, user_id: _Optional[str] = ..., plan: _Optional[str] = ...) -> None: ...

class SetUserDisabledCmd(_message.Message):
    __slots__ = ("user_id", "disabled")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    disabled: bool
    def __init__(self, user_id: _Optional[str] = ..., disabled: _Optional[bool] = ...) -> None: ...

class RevokeSessionCmd(_message.Message):
    __slots__ = ("jti", "expires_at_ms", "now_ms")
    JTI_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    NOW_MS_FIELD_NUMBER: _ClassVar[int]
    jti: str
    expires_at_ms: int
    now_ms: int
    def __init__(self, jti: _Optional[str] = ..., expires_at_ms: _Optional[int] = ..., now_ms: _Optional[int] = ...) -> None: ...

class AuthCommand(_message.Message):
    __slots__ = ("create_user", "delete_user", "create_key", "revoke_key", "revoke_session", "set_user_plan", "set_user_disabled")
    CREATE_USER_FIELD_NUMBER: _ClassVar[int]
    DELETE_USER_FIELD_NUMBER: _ClassVar[int]
    CREATE_KEY_FIELD_NUMBER: _ClassVar[int]
    REVOKE_KEY_FIELD_NUMBER: _ClassVar[int]
    REVOKE_SESSION_FIELD_NUMBER: _ClassVar[int]
    SET_USER_PLAN_FIELD_NUMBER: _ClassVar[int]
    SET_USER_DISABLED_FIELD_NUMBER: _ClassVar[int]
    create_user: CreateUserCmd
    delete_user: DeleteUserCmd
    create_key: CreateKeyCmd
    revoke_key: RevokeKeyCmd
    revoke_session: RevokeSessionCmd
    set_user_plan: SetUserPlanCmd
    set_user_disabled: SetUserDisabledCmd
    def __init__(self, create_user: _Optional[_Union[CreateUserCmd, _Mapping]] = ..., delete_user: _Optional[_Union[DeleteUserCmd, _Mapping]] = ..., create_key: _Optional[_Union[CreateKeyCmd, _Mapping]] = ..., revoke_key: _Optional[_Union[RevokeKeyCmd, _Mapping]] = ..., revoke_session: _Optional[_Union[RevokeSessionCmd, _Mapping]] = ..., set_user_plan: _Optional[_Union[SetUserPlanCmd, _Mapping]] = ..., set_user_disabled: _Optional[_Union[SetUserDisabledCmd, _Mapping]] = ...) -> None: ...

class AuthError(_message.Message):
    __slots__ = ("code", "message", "field")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    field: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., field: _Optional[str] = ...) -> None: ...

class AuthResult(_message.Message):
    __slots__ = ("error", "user", "key", "ok")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    error: AuthError
    user: User
    key: APIKeyInfo
    ok: bool
    def __init__(self, error: _Optional[_Union[AuthError, _Mapping]] = ..., user: _Optional[_Union[User, _Mapping]] = ..., key: _Optional[_Union[APIKeyInfo, _Mapping]] = ..., ok: _Optional[bool] = ...) -> None: ...
