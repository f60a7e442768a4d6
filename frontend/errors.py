"""The frontend's error tree, the one status → error-type table of each API, and the bodies that carry an error.

    ApiError                  an error dario answers itself: status, message, param, code, headers
    ├── ServiceUnavailable    one of dario's services does not answer (503)
    │   └── ServiceTimedOut   ... or not within the call's deadline (504)
    ├── PoolExhausted         every credential of the backend is rate-limited or was tried (429, retry-after)
    ├── NoUsableCredential    no credential of the backend can serve now, e.g. all need a login (503)
    ├── MalformedBody         the request body's framing or encoding broke (400)
    └── RelayFailed           the upstream answer failed before a byte of it reached the client (its Failure)
    DeadlineExpired           (a TimeoutError) the upstream sent no headers within the call's deadline

Foreign errors become ApiErrors once, at their boundary (frontend.error_mapping): gRPC errors of dario's
services, aiohttp client errors of an upstream call, routing's NoRoute, aiohttp's own HTTP errors, and the
translators' TranslationError. An upstream's own error answer is no ApiError: it is passed on with its status,
its body translated when the client speaks another API (frontend.translate.upstream_errors), with the same
table of error types as dario's own errors.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from frontend.upstream.deadlines import Failure

# The one table of each API (translation.md §7): the error `type` a status gets, for the errors dario answers
# itself and for an upstream's error told in the client's API (its status kept, its body translated).
# Anthropic: each type with the statuses it stands for, Anthropic's own first.
ANTHROPIC_ERROR_TYPES: dict[str, tuple[int, ...]] = {
    "invalid_request_error": (400, 422),
    "authentication_error": (401,),
    "billing_error": (402,),
    "permission_error": (403,),
    "not_found_error": (404,),
    "conflict_error": (409,),
    "request_too_large": (413,),
    "rate_limit_error": (429,),
    "api_error": (500, 502),
    "timeout_error": (504, 408),
    "overloaded_error": (529, 503),
}
_ANTHROPIC_BY_STATUS = {status: kind for kind, statuses in ANTHROPIC_ERROR_TYPES.items() for status in statuses}
# The OpenAI error shape, which Chat Completions and the Responses API share: status → `type`. An Anthropic
# upstream's error gets the type of its own type's status here (overloaded_error, 529 → overloaded_error).
OPENAI_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    501: "invalid_request_error",
    502: "server_error",
    503: "service_unavailable",
    504: "timeout",
    529: "overloaded_error",
}

START_HINT = "Start the stack: dario up"


class ApiError(Exception):
    """An error dario answers with itself (not an upstream's error, which is passed on as it came)."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers or {}


class ServiceUnavailable(ApiError):
    """One of dario's own services does not answer."""

    def __init__(self, service: str, socket_path: str, detail: str = "") -> None:
        reason = f" ({detail})" if detail else ""
        super().__init__(
            503,
            f"dario's {service} is not available{reason}; it listens on {socket_path}. {START_HINT}",
            code="service_unavailable",
        )
        self.service = service


class ServiceTimedOut(ServiceUnavailable):
    """One of dario's own services took longer than the call's deadline (gRPC DEADLINE_EXCEEDED): a gateway
    timeout, as Envoy answers an upstream that is there but too slow (504, where an absent one is a 503)."""

    def __init__(self, service: str, socket_path: str) -> None:
        ApiError.__init__(self, 504, f"dario's {service} did not answer in time; it listens on {socket_path}. "
                                     "See its log in $DARIO_HOME/logs", code="service_timeout")
        self.service = service


class PoolExhausted(ApiError):
    """Every credential of a backend is rate-limited (or was tried); the client may retry after retry_after s."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(429, message, code="rate_limited", headers={"retry-after": str(retry_after)})
        self.retry_after = retry_after


class NoUsableCredential(ApiError):
    """No credential of a backend can serve now (each needs a login, or is disabled): the next fallback may."""


class MalformedBody(ApiError):
    """A request body whose HTTP framing or encoding broke (a bad chunk, a corrupt gzip): what reading it raises,
    so the request is answered, and recorded, as the client's 400."""

    def __init__(self, detail: str) -> None:
        super().__init__(400, f"the request body is malformed: {detail.split(chr(10), 1)[0].rstrip(':')}",
                         code="invalid_body")


class RelayFailed(ApiError):
    """The upstream answer failed before a byte of it reached the client: an ordinary error answer."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.status, failure.message, code=failure.error_type)


class DeadlineExpired(TimeoutError):
    """The upstream sent no answer (not even its headers) within the call's deadline: a timeout like any other."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def openai_error_type(status: int) -> str:
    return OPENAI_ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")


def anthropic_error_type(status: int) -> str:
    return _ANTHROPIC_BY_STATUS.get(status, "invalid_request_error" if status < 500 else "api_error")


def anthropic_status(error_type: str) -> int:
    """The status Anthropic answers an error type with (500, an api_error's, for a type it does not have)."""
    return ANTHROPIC_ERROR_TYPES.get(error_type, ANTHROPIC_ERROR_TYPES["api_error"])[0]


def openai_error_body(error: ApiError) -> bytes:
    """The OpenAI error shape, which the Chat Completions and the Responses APIs share."""
    body = {"error": {"message": error.message, "type": openai_error_type(error.status), "param": error.param,
                      "code": error.code}}
    return json.dumps(body).encode()


def anthropic_error_body(error: ApiError) -> bytes:
    body = {"type": "error", "error": {"type": anthropic_error_type(error.status), "message": error.message}}
    return json.dumps(body).encode()


def error_body(error: ApiError, api_format: str) -> bytes:
    """The error's body in the shape of the client's API ("anthropic", or "openai" and "responses")."""
    return anthropic_error_body(error) if api_format == "anthropic" else openai_error_body(error)


def error_response(error: ApiError, api_format: str = "openai") -> web.Response:
    return web.Response(status=error.status, body=error_body(error, api_format), content_type="application/json",
                        headers=error.headers)


def openai_stream_error_event(message: str, code: str | None = None) -> bytes:
    """The in-band error an OpenAI client gets once a stream has started (the SDK raises APIError on it)."""
    payload = {"error": {"message": message, "type": "server_error", "param": None, "code": code}}
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def responses_stream_error_event(message: str, code: str | None = None) -> bytes:
    """The in-band `error` event of a Responses stream (what the API sends when a stream fails)."""
    payload = {"type": "error", "code": code or "server_error", "message": message, "param": None,
               "sequence_number": 0}
    return b"event: error\ndata: " + json.dumps(payload).encode() + b"\n\n"


def anthropic_stream_error_event(message: str, code: str | None = None) -> bytes:
    """The in-band `event: error` an Anthropic client gets once a stream has started (the SDK raises on it)."""
    payload = {"type": "error", "error": {"type": "api_error", "message": message}}
    return b"event: error\ndata: " + json.dumps(payload).encode() + b"\n\n"
