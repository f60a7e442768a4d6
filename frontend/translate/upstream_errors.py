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
    message = lenient_text(error.get("message")) or f"upstream returned non-JSON (status {status})"
    error_type = anthropic_error_type(status)
    if error.get("code") == "insufficient_quota":
        error_type = "billing_error"
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
