"""Mapping vectron.errors to gRPC statuses, once, for every service.

Server side: wrap a servicer method with :func:`grpc_error_boundary`. A :class:`~vectron.errors.VectronError`
becomes the gRPC status named by its ``grpc_code``, with its message as the
details and its ``code`` / ``field`` in the trailing metadata
(``vectron-error-code``, ``vectron-error-field``) so that a client can rebuild the
same error with :func:`error_from_rpc_error`. Any other exception is logged and
becomes INTERNAL without leaking its text.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import grpc

from vectron.errors import NotLeader, RateLimited, VectronError, error_from_code

__all__ = [
    "ERROR_CODE_KEY",
    "ERROR_FIELD_KEY",
    "LEADER_KEY",
    "RETRY_AFTER_KEY",
    "status_code_for",
    "abort_with",
    "grpc_error_boundary",
    "error_from_rpc_error",
    "may_have_been_applied",
]

log = logging.getLogger(__name__)

ERROR_CODE_KEY = "vectron-error-code"
ERROR_FIELD_KEY = "vectron-error-field"
LEADER_KEY = "vectron-leader"
RETRY_AFTER_KEY = "retry-after"  # seconds, on a RateLimited

F = TypeVar("F", bound=Callable[..., Any])


def status_code_for(error: VectronError) -> grpc.StatusCode:
    """The gRPC status code named by ``error.grpc_code`` (INTERNAL if unknown)."""
    return getattr(grpc.StatusCode, error.grpc_code, grpc.StatusCode.INTERNAL)


def abort_with(context: grpc.ServicerContext, error: VectronError) -> NoReturn:
    """Abort the RPC with the status, details and trailing metadata of ``error``."""
    trailers: list[tuple[str, str]] = [(ERROR_CODE_KEY, error.code)]
    if error.field:
        trailers.append((ERROR_FIELD_KEY, error.field))
    if isinstance(error, NotLeader) and error.leader:
        trailers.append((LEADER_KEY, error.leader))
    if isinstance(error, RateLimited):
        trailers.append((RETRY_AFTER_KEY, f"{error.retry_after:.3f}"))
    context.set_trailing_metadata(tuple(trailers))
    context.abort(status_code_for(error), error.message)
    raise AssertionError("unreachable: context.abort raises")  # pragma: no cover


def _handle(context: grpc.ServicerContext, exc: BaseException, name: str) -> NoReturn:
    if _is_abort(context, exc):
        raise exc
    if isinstance(exc, VectronError):
        if status_code_for(exc) == grpc.StatusCode.INTERNAL:
            log.error("%s failed: %s", name, exc, exc_info=exc)
        abort_with(context, exc)
    log.exception("%s: unexpected error", name, exc_info=exc)
    context.abort(grpc.StatusCode.INTERNAL, "internal error")
    raise AssertionError("unreachable")  # pragma: no cover


def grpc_error_boundary(method: F) -> F:
    """Decorate a unary servicer method ``(self, request, context, ...)`` to map errors."""

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, request, context, *args, **kwargs)
        except Exception as exc:
            _handle(context, exc, method.__qualname__)

    return wrapper  # type: ignore[return-value]


def _is_abort(context: grpc.ServicerContext, exc: BaseException) -> bool:
    # context.abort() raises a bare Exception after setting the status: let it through.
    if isinstance(exc, VectronError):
        return False
    try:
        return context.code() is not None
    except Exception:
        return False


def error_from_rpc_error(exc: grpc.RpcError) -> VectronError:
    """Rebuild the VectronError a server aborted with (client side)."""
    trailers = dict(exc.trailing_metadata() or ()) if hasattr(exc, "trailing_metadata") else {}
    details = exc.details() if hasattr(exc, "details") else str(exc)
    code = trailers.get(ERROR_CODE_KEY)
    if code is None:
        status = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
        code = {
            grpc.StatusCode.UNAVAILABLE: "unavailable",
            grpc.StatusCode.DEADLINE_EXCEEDED: "indeterminate",
            grpc.StatusCode.INVALID_ARGUMENT: "invalid_argument",
            grpc.StatusCode.NOT_FOUND: "not_found",
            grpc.StatusCode.ALREADY_EXISTS: "already_exists",
            grpc.StatusCode.UNAUTHENTICATED: "unauthenticated",
            grpc.StatusCode.PERMISSION_DENIED: "permission_denied",
            grpc.StatusCode.RESOURCE_EXHAUSTED: "resource_exhausted",
        }.get(status, "internal")
    error = error_from_code(code, details or "", trailers.get(ERROR_FIELD_KEY))
    if isinstance(error, NotLeader):
        error.leader = trailers.get(LEADER_KEY)
    if isinstance(error, RateLimited):
        try:
            error.retry_after = max(0.0, float(trailers.get(RETRY_AFTER_KEY, "1")))
        except ValueError:
            error.retry_after = 1.0
    return error


def may_have_been_applied(exc: grpc.RpcError) -> bool:
    """Whether a failed call may still have taken effect on the server (client side).

    Yes when it timed out, when the server said its outcome is unknown
    (Indeterminate), and when the connection broke after the request went out: an
    UNAVAILABLE the server did not send itself (no error code in the trailers) and
    that is not a failed connect (keepalive timeout, reset, "Stream removed")."""
    code = exc.code()
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return True
    trailers = dict(exc.trailing_metadata() or ())
    if ERROR_CODE_KEY in trailers:
        return trailers[ERROR_CODE_KEY] == "indeterminate"
    return code == grpc.StatusCode.UNAVAILABLE and not (exc.details() or "").startswith("failed to connect")
