"""Reads what the frontend must know of a client request body, without changing the bytes it forwards."""

from __future__ import annotations

import json
from dataclasses import dataclass

from frontend.errors import ApiError


@dataclass(frozen=True)
class ChatRequest:
    model: str
    stream: bool


def parse_chat_request(body: bytes) -> ChatRequest:
    """Checks the fields routing depends on; raises ApiError(400) naming the first field that is wrong."""
    if not body.strip():
        raise ApiError(400, "the request body is empty; send a JSON object", code="invalid_json")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(400, f"the request body is not valid JSON: {error}", code="invalid_json") from None
    if not isinstance(document, dict):
        raise ApiError(400, "the request body must be a JSON object", code="invalid_json")
    model = document.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ApiError(400, "model: a non-empty string is required", param="model", code="missing_required_parameter")
    messages = document.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages: a non-empty array is required", param="messages", code="invalid_type")
    stream = document.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise ApiError(400, "stream: must be a boolean", param="stream", code="invalid_type")
    return ChatRequest(model=model, stream=bool(stream))
