"""An upstream's error body told in the client's API (TRANSLATION.md §8): the status is kept by the caller, the
body translated; Anthropic, Chat and Responses clients each get their own shape."""

from __future__ import annotations

import json

from frontend.translate import lenient_object, lenient_text

# Anthropic error type → (OpenAI type, code); and OpenAI status → Anthropic type.
OPENAI_ERRORS = {"invalid_request_error": ("invalid_request_error", None),
                 "authentication_error": ("authentication_error", "invalid_api_key"),
                 "billing_error": ("insufficient_quota", "insufficient_quota"),
                 "permission_error": ("permission_error", None),
                 "not_found_error": ("not_found_error", "model_not_found"),
                 "request_too_large": ("invalid_request_error", "request_too_large"),
                 "rate_limit_error": ("rate_limit_error", "rate_limit_exceeded"), "api_error": ("server_error", None),
                 "timeout_error": ("timeout", None), "overloaded_error": ("overloaded_error", None)}
ANTHROPIC_ERRORS = {400: "invalid_request_error", 422: "invalid_request_error", 401: "authentication_error",
                    402: "billing_error", 403: "permission_error", 404: "not_found_error", 408: "timeout_error",
                    413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 502: "api_error",
                    503: "overloaded_error", 504: "timeout_error", 529: "overloaded_error"}


def _parse(body: bytes) -> dict | None:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return document if isinstance(document, dict) else None


def error_to_openai(status: int, body: bytes) -> dict:
    """An Anthropic error body → the OpenAI shape (the status is kept by the caller)."""
    document = _parse(body) or {}
    error = lenient_object(document.get("error"))
    message = lenient_text(error.get("message")) or f"upstream returned non-JSON (status {status})"
    error_type, code = OPENAI_ERRORS.get(lenient_text(error.get("type")) or "api_error", ("server_error", None))
    return {"error": {"message": message, "type": error_type, "param": None, "code": code}}


def error_to_anthropic(status: int, body: bytes) -> dict:
    """An OpenAI error body → the Anthropic shape."""
    document = _parse(body) or {}
    error = lenient_object(document.get("error"))
    message = lenient_text(error.get("message")) or f"upstream returned non-JSON (status {status})"
    error_type = ANTHROPIC_ERRORS.get(status, "invalid_request_error" if status < 500 else "api_error")
    if error.get("code") == "insufficient_quota":
        error_type = "billing_error"
    return {"type": "error", "error": {"type": error_type, "message": message}}


def error_to_responses(status: int, body: bytes) -> dict:
    """An upstream error body, OpenAI or Anthropic shaped (or not JSON at all) → the OpenAI error shape."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        document = None
    error = document.get("error") if isinstance(document, dict) else None
    if isinstance(error, str):
        error = {"message": error}
    if not isinstance(error, dict) or document.get("type") == "error":
        return error_to_openai(status, body)  # Anthropic's shape, or no JSON: mapped per TRANSLATION.md §8
    return {"error": {"message": lenient_text(error.get("message")) or f"upstream error (status {status})",
                      "type": lenient_text(error.get("type")) or ("invalid_request_error" if status < 500
                                                                  else "server_error"),
                      "param": lenient_text(error.get("param")) or None,
                      "code": lenient_text(error.get("code")) or None}}
