"""The one exception hierarchy of Vectron.

Every error knows how it is shown at the edges: an HTTP status, a gRPC status
code (by name, so this module imports nothing of gRPC) and a short stable
``code`` string for JSON bodies. Services map errors once, from these
attributes; nothing below the edges knows about status codes.

::

    VectronError                      500  INTERNAL
    ├── InvalidArgument               400  INVALID_ARGUMENT   (.field names the bad input)
    │   ├── DimensionMismatch
    │   ├── InvalidFilter
    │   └── PayloadTooLarge           413
    ├── Unauthenticated               401  UNAUTHENTICATED
    ├── PermissionDenied              403  PERMISSION_DENIED
    ├── NotFound                      404  NOT_FOUND
    │   └── CollectionNotFound
    ├── AlreadyExists                 409  ALREADY_EXISTS
    │   └── CollectionAlreadyExists
    ├── ResourceExhausted             429  RESOURCE_EXHAUSTED
    ├── Unavailable                   503  UNAVAILABLE        (definite failure: nothing was applied)
    │   └── NotLeader                                         (.leader is the leader's address, if known)
    ├── Indeterminate                 504  UNKNOWN            (the write may or may not have been applied)
    └── StorageError                  500  INTERNAL
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "VectronError",
    "InvalidArgument",
    "DimensionMismatch",
    "InvalidFilter",
    "PayloadTooLarge",
    "Unauthenticated",
    "PermissionDenied",
    "NotFound",
    "CollectionNotFound",
    "AlreadyExists",
    "CollectionAlreadyExists",
    "ResourceExhausted",
    "Unavailable",
    "NotLeader",
    "Indeterminate",
    "StorageError",
    "error_from_code",
]


class VectronError(Exception):
    """Base of every error Vectron raises on purpose."""

    http_status: int = 500
    grpc_code: str = "INTERNAL"
    code: str = "internal"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body: ``{"code", "message", "field"?}``."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class InvalidArgument(VectronError):
    http_status = 400
    grpc_code = "INVALID_ARGUMENT"
    code = "invalid_argument"


class DimensionMismatch(InvalidArgument):
    code = "dimension_mismatch"


class InvalidFilter(InvalidArgument):
    code = "invalid_filter"

    def __init__(self, message: str, *, field: str | None = "filter") -> None:
        super().__init__(message, field=field)


class PayloadTooLarge(InvalidArgument):
    http_status = 413
    code = "payload_too_large"


class Unauthenticated(VectronError):
    http_status = 401
    grpc_code = "UNAUTHENTICATED"
    code = "unauthenticated"


class PermissionDenied(VectronError):
    http_status = 403
    grpc_code = "PERMISSION_DENIED"
    code = "permission_denied"


class NotFound(VectronError):
    http_status = 404
    grpc_code = "NOT_FOUND"
    code = "not_found"


class CollectionNotFound(NotFound):
    code = "collection_not_found"


class AlreadyExists(VectronError):
    http_status = 409
    grpc_code = "ALREADY_EXISTS"
    code = "already_exists"


class CollectionAlreadyExists(AlreadyExists):
    code = "collection_already_exists"


class ResourceExhausted(VectronError):
    http_status = 429
    grpc_code = "RESOURCE_EXHAUSTED"
    code = "resource_exhausted"


class Unavailable(VectronError):
    """A definite failure: the request was not applied and may be retried."""

    http_status = 503
    grpc_code = "UNAVAILABLE"
    code = "unavailable"


class NotLeader(Unavailable):
    code = "not_leader"

    def __init__(self, message: str, *, leader: str | None = None) -> None:
        super().__init__(message)
        self.leader = leader


class Indeterminate(VectronError):
    """The outcome is unknown: the write may or may not have taken effect."""

    http_status = 504
    grpc_code = "UNKNOWN"
    code = "indeterminate"


class StorageError(VectronError):
    code = "storage_error"


def _all_subclasses(cls: type[VectronError]) -> list[type[VectronError]]:
    out = [cls]
    for sub in cls.__subclasses__():
        out.extend(_all_subclasses(sub))
    return out


def error_from_code(code: str, message: str, field: str | None = None) -> VectronError:
    """Rebuild an error from its ``code`` (e.g. one carried in an FSM result or an RPC)."""
    for cls in _all_subclasses(VectronError):
        if cls.code == code:
            if cls is NotLeader:
                return NotLeader(message)
            if cls is InvalidFilter:
                return InvalidFilter(message, field=field or "filter")
            return cls(message, field=field)
    return VectronError(message, field=field)
