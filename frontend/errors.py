"""Errors users see, in the format of the API they called, and the one place gRPC failures become HTTP ones."""

from __future__ import annotations

import json

import grpc
from aiohttp import web

# HTTP status → OpenAI error `type`, for errors dario raises itself.
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    408: "timeout",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    501: "invalid_request_error",
    502: "server_error",
    503: "service_unavailable",
    504: "timeout",
}

# HTTP status → Anthropic error `type` (SPEC §3 shape {"type": "error", "error": {"type", "message"}}).
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}

START_HINT = "Start the stack: supervisord -c deploy/dario.conf"


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


def openai_error_body(error: ApiError) -> bytes:
    body = {
        "error": {
            "message": error.message,
            "type": _OPENAI_TYPES.get(error.status, "invalid_request_error" if error.status < 500 else "server_error"),
            "param": error.param,
            "code": error.code,
        }
    }
    return json.dumps(body).encode()


def anthropic_error_type(status: int) -> str:
    return _ANTHROPIC_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")


def anthropic_error_body(error: ApiError) -> bytes:
    body = {"type": "error", "error": {"type": anthropic_error_type(error.status), "message": error.message}}
    return json.dumps(body).encode()


def error_response(error: ApiError, api_format: str = "openai") -> web.Response:
    body = anthropic_error_body(error) if api_format == "anthropic" else openai_error_body(error)
    return web.Response(status=error.status, body=body, content_type="application/json", headers=error.headers)


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


def from_rpc_error(error: grpc.RpcError, service: str, socket_path: str) -> ApiError:
    """Maps a failed call to one of dario's services onto the error the client sees."""
    code = error.code() if hasattr(error, "code") else None
    detail = error.details() if hasattr(error, "details") else ""
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED, None):
        reason = "no answer in time" if code == grpc.StatusCode.DEADLINE_EXCEEDED else "not running"
        return ServiceUnavailable(service, socket_path, reason)
    status = {
        grpc.StatusCode.NOT_FOUND: 404,
        grpc.StatusCode.INVALID_ARGUMENT: 400,
        grpc.StatusCode.FAILED_PRECONDITION: 503,
        grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
        grpc.StatusCode.PERMISSION_DENIED: 403,
        grpc.StatusCode.UNAUTHENTICATED: 401,
    }.get(code, 500)
    return ApiError(status, f"{service}: {detail or code.name.lower()}", code=code.name.lower())
