"""Foreign errors become the client's ApiError here, once per boundary (the tree is in frontend.errors):

- gRPC: a failed call to credential_service or pool_service: away → 503, connected but too slow → 504, its
  own refusals as their HTTP status (from_rpc_error; Acquire's own from_acquire_error);
- aiohttp client errors of an upstream call: unreachable → 502, timed out → 504 (from_upstream_error);
- routing: no backend serves the model → 404 (from_no_route);
- aiohttp's own HTTP errors, raised before or around a handler (from_http_exception);
- translation: a field the target API cannot carry → 400 (from_translation_error).
"""

from __future__ import annotations

import contextlib

import aiohttp
import grpc
from aiohttp import web

from dario.routing import NoRoute
from frontend.errors import ApiError, DeadlineExpired, PoolExhausted, ServiceTimedOut, ServiceUnavailable
from frontend.translate import TranslationError

# gRPC codes that say the service itself is away (not running, restarting): told as its absence.
_AWAY = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, None)
# The other codes a service answers with, as the HTTP status the client gets.
_RPC_STATUSES = {
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 503,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}


def from_rpc_error(error: grpc.RpcError, service: str, socket_path: str,
                   channel: grpc.aio.Channel | None = None) -> ApiError:
    """Maps a failed call to one of dario's services onto the error the client sees. A passed deadline is a 504
    when the service was connected (there, but too slow), and a 503 when the call only waited for it to come
    (`channel` tells which): as a gateway answers a slow upstream and one it cannot reach."""
    code = error.code() if hasattr(error, "code") else None
    detail = error.details() if hasattr(error, "details") else ""
    if code == grpc.StatusCode.DEADLINE_EXCEEDED and (
            channel is None or channel.get_state() == grpc.ChannelConnectivity.READY):
        return ServiceTimedOut(service, socket_path)
    if code in _AWAY or code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return ServiceUnavailable(service, socket_path, "not running")
    status = _RPC_STATUSES.get(code, 500)
    return ApiError(status, f"{service}: {detail or code.name.lower()}", code=code.name.lower())


def from_acquire_error(error: grpc.RpcError, service: str, socket_path: str,
                       channel: grpc.aio.Channel | None = None) -> ApiError:
    """A failed Acquire: RESOURCE_EXHAUSTED is pool_service saying no credential has room (429 with the retry-after
    it sent); anything else as from_rpc_error."""
    if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return PoolExhausted(error.details() or "no credential has room", _retry_after(error))
    return from_rpc_error(error, service, socket_path, channel)


def _retry_after(error: grpc.RpcError) -> int:
    # The frontend's calls are grpc.aio calls: their errors carry aio Metadata, (key, value) pairs.
    metadata = error.trailing_metadata() if isinstance(error, grpc.aio.AioRpcError) else None
    for key, value in metadata or ():
        if key == "retry-after":
            with contextlib.suppress(ValueError):
                return max(1, int(float(value)))
    return 1


def from_upstream_error(error: Exception, backend: str, base_url: str, read_seconds: float) -> ApiError:
    """An upstream call that raised: its deadline passed (the Failure it names), aiohttp's per-read timeout fired
    (504), or the backend could not be reached (502)."""
    if isinstance(error, DeadlineExpired):
        return ApiError(error.failure.status, error.failure.message, code=error.failure.error_type)
    if isinstance(error, TimeoutError):
        return ApiError(504, f"backend {backend!r} did not answer within {read_seconds:.0f}s", code="upstream_timeout")
    return ApiError(502, f"could not reach backend {backend!r} at {base_url}: {error}", code="upstream_unreachable")


UPSTREAM_ERRORS = (TimeoutError, aiohttp.ClientError)  # what an upstream call raises that from_upstream_error maps


def from_no_route(error: NoRoute) -> ApiError:
    return ApiError(404, str(error), param="model", code="model_not_found")


def http_error_code(error: web.HTTPException) -> str:
    """The error code of one of aiohttp's HTTP errors: its reason, in snake case."""
    return error.reason.lower().replace(" ", "_")


def from_http_exception(error: web.HTTPException, method: str, path: str, body_limit: int | None = None) -> ApiError:
    """One of aiohttp's own HTTP errors (no route, a refused method, a body past the limit, an unknown Expect)."""
    if error.status == 404:
        return ApiError(404, f"unknown path {path}", code="unknown_path")
    if error.status == 405:
        return ApiError(405, f"method {method} is not allowed on {path}", code="method_not_allowed")
    if error.status == 413 and body_limit is not None:
        return ApiError(413, f"the request body is larger than the limit of {body_limit} bytes",
                        code="request_too_large")
    if error.status == 417:  # raised before the app's middleware, for an Expect other than 100-continue
        message = f"{error.text or error.reason}; only Expect: 100-continue is supported"
        return ApiError(417, message, code=http_error_code(error))
    return ApiError(error.status, error.reason, code=http_error_code(error))


def from_translation_error(error: TranslationError) -> ApiError:
    return ApiError(400, str(error), param=error.param, code="unsupported_parameter")
