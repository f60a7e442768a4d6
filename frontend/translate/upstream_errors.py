"""An upstream's error body told in the client's API (translation.md §7): the status is kept by the caller, the
body translated; Anthropic, Chat and Responses clients each get their own shape, with the error type the one
table of their API gives (frontend.errors), the same as for dario's own errors."""

from __future__ import annotations

import json

from dario.json_types import JsonObject
from frontend.errors import anthropic_error_type, anthropic_status, openai_error_type
from frontend.translate import lenient_object, lenient_text

# The OpenAI `code` that goes with an Anthropic error type (its `type` comes from the one OpenAI table).
OPENAI_CODES = {"authentication_error": "invalid_api_key", "billing_error": "insufficient_quota",
                "not_found_error": "model_not_found", "request_too_large": "request_too_large",
                "rate_limit_error": "rate_limit_exceeded"}


# An OpenAI-compatible error's type or code → the HTTP status it stands for (when the status is not given), and so
# its Anthropic type through the one table (translation.md §7.1). llama.cpp says exceed_context_size_error.
STATUS_OF_OPENAI_ERROR = {
    "invalid_request_error": 400, "context_length_exceeded": 400, "exceed_context_size_error": 400,
    "string_above_max_length": 400, "invalid_prompt": 400, "authentication_error": 401, "invalid_api_key": 401,
    "insufficient_quota": 402, "permission_error": 403, "not_found_error": 404, "model_not_found": 404,
    "rate_limit_exceeded": 429, "rate_limit_error": 429, "tokens": 429, "requests": 429, "server_error": 500,
    "api_error": 500, "service_unavailable": 503, "overloaded_error": 529, "timeout": 504, "timeout_error": 504,
}
CONTEXT_CODES = ("context_length_exceeded", "exceed_context_size_error")
# Anthropic's own wording for a prompt over the context window; Claude Code compacts the conversation on it.
PROMPT_TOO_LONG = "prompt is too long"


def _status_of(error: JsonObject, status: int | None) -> int:
    code, kind = error.get("code"), lenient_text(error.get("type"))
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return code
    for name in (lenient_text(code), kind):
        if name in STATUS_OF_OPENAI_ERROR:
            return STATUS_OF_OPENAI_ERROR[name]
    return status or 500


def openai_error_code(error: JsonObject) -> str | None:
    """The OpenAI `code` of an OpenAI-compatible error (llama.cpp's context overflow as OpenAI's own), or None."""
    code, kind = lenient_text(error.get("code")), lenient_text(error.get("type"))
    if code in CONTEXT_CODES or kind in CONTEXT_CODES:
        return "context_length_exceeded"
    if code and not code.isdigit():
        return code
    return "rate_limit_exceeded" if "rate_limit" in kind else None


def anthropic_error_of(error: JsonObject, status: int | None = None) -> tuple[int, str, str]:
    """An OpenAI-compatible error object (a body's or an in-band stream event's) → the Anthropic (status, type,
    message): its status when it gives one, else what its code or type stands for (an in-band error has no HTTP
    status of its own); a context overflow is worded as Anthropic words it."""
    status = _status_of(error, status)
    error_type = "billing_error" if error.get("code") == "insufficient_quota" else anthropic_error_type(status)
    message = lenient_text(error.get("message")) or f"upstream error (status {status})"
    if openai_error_code(error) == "context_length_exceeded" and PROMPT_TOO_LONG not in message.lower():
        message = f"{PROMPT_TOO_LONG}: {message}"
    return status, error_type, message


def openai_error_of(anthropic_type: str) -> tuple[str, str | None]:
    """An Anthropic error type → the OpenAI (type, code): the type the OpenAI table gives its status."""
    return openai_error_type(anthropic_status(anthropic_type)), OPENAI_CODES.get(anthropic_type)


def _parse(body: bytes) -> JsonObject | None:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return document if isinstance(document, dict) else None


def error_to_openai(status: int, body: bytes) -> JsonObject:
    """An Anthropic error body → the OpenAI shape (the status is kept by the caller)."""
    document = _parse(body) or {}
    error = lenient_object(document.get("error"))
    message = lenient_text(error.get("message")) or f"upstream returned non-JSON (status {status})"
    error_type, code = openai_error_of(lenient_text(error.get("type")) or "api_error")
    return {"error": {"message": message, "type": error_type, "param": None, "code": code}}


def error_to_anthropic(status: int, body: bytes) -> JsonObject:
    """An OpenAI error body → the Anthropic shape."""
    document = _parse(body) or {}
    error = lenient_object(document.get("error"))
    if not lenient_text(error.get("message")):
        error = dict(error, message=f"upstream returned non-JSON (status {status})")
    _, _, message = anthropic_error_of(error, status)  # the status of a whole answer is the upstream's own
    error_type = "billing_error" if error.get("code") == "insufficient_quota" else anthropic_error_type(status)
    return {"type": "error", "error": {"type": error_type, "message": message}}


def error_to_responses(status: int, body: bytes) -> JsonObject:
    """An upstream error body, OpenAI or Anthropic shaped (or not JSON at all) → the OpenAI error shape."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        document = None
    error = document.get("error") if isinstance(document, dict) else None
    if isinstance(error, str):
        error = {"message": error}
    if not isinstance(error, dict) or document.get("type") == "error":
        return error_to_openai(status, body)  # Anthropic's shape, or no JSON: mapped per translation.md §7
    return {"error": {"message": lenient_text(error.get("message")) or f"upstream error (status {status})",
                      "type": lenient_text(error.get("type")) or openai_error_type(status),
                      "param": lenient_text(error.get("param")) or None,
                      "code": lenient_text(error.get("code")) or None}}
