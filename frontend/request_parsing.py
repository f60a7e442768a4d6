"""Reads what the frontend must know of a client request body (either API), without changing the bytes it forwards."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from dario.json_types import JsonObject
from frontend.errors import ApiError

# A \u escape of a UTF-16 surrogate; only a pair of them is a character (checked only when one appears).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class ParsedRequest:
    model: str
    stream: bool
    document: JsonObject


def _refuse_constant(name: str) -> float:
    raise ApiError(400, f"the request body is not valid JSON: {name} is no JSON number (RFC 8259 §6)",
                   code="invalid_json")


def _text(body: bytes) -> str:
    """The body as the strict UTF-8 RFC 8259 §8.1 requires: an encoded surrogate or a UTF-16 body is refused
    here, before it is forwarded natively or met by a translator that cannot encode it."""
    if body.startswith(b"\xef\xbb\xbf"):
        # RFC 8259 forbids sending one; refused rather than stripped, so that the native path keeps
        # forwarding the client's bytes unchanged and every route answers a body the same way.
        raise ApiError(400, "the request body starts with a UTF-8 byte order mark, which JSON sent over a network "
                            "must not have (RFC 8259 §8.1); send it without one", code="invalid_json")
    if body.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in body[:4]:
        raise ApiError(400, "the request body is UTF-16 or UTF-32; JSON sent over a network must be UTF-8 "
                            "(RFC 8259 §8.1)", code="invalid_json")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(400, f"the request body is not valid UTF-8 (byte 0x{body[error.start]:02x} at offset "
                            f"{error.start}); JSON must be UTF-8 (RFC 8259 §8.1)", code="invalid_json") from None


def _document(body: bytes) -> JsonObject:
    if not body.strip():
        raise ApiError(400, "the request body is empty; send a JSON object", code="invalid_json")
    text = _text(body)
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as error:
        raise ApiError(400, f"the request body is not valid JSON: {error}", code="invalid_json") from None
    except RecursionError:
        raise ApiError(400, "the request body nests JSON arrays or objects too deeply", code="invalid_json") from None
    if not isinstance(document, dict):
        raise ApiError(400, "the request body must be a JSON object", code="invalid_json")
    if _SURROGATE_ESCAPE.search(body) and _has_lone_surrogate(document):
        raise ApiError(400, "the request body is not valid JSON: a \\u escape encodes half a surrogate pair, "
                            "which is no character", code="invalid_json")
    return document


def _has_lone_surrogate(document: JsonObject) -> bool:
    """True when a string holds half a surrogate pair: it has no UTF-8 form, so it cannot be sent on."""
    try:
        json.dumps(document, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    return False


def _common(body: bytes) -> tuple[JsonObject, str, bool]:
    """The fields both APIs share: a JSON object with a model, messages, and an optional stream flag."""
    document = _document(body)
    model = document.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ApiError(400, "model: a non-empty string is required", param="model", code="missing_required_parameter")
    messages = document.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages: a non-empty array is required", param="messages", code="invalid_type")
    stream = document.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise ApiError(400, "stream: must be a boolean", param="stream", code="invalid_type")
    return document, model, bool(stream)


def parse_chat_request(body: bytes) -> ParsedRequest:
    """An OpenAI Chat Completions body; raises ApiError(400) naming the first field that is wrong."""
    document, model, stream = _common(body)
    return ParsedRequest(model, stream, document)


def parse_messages_request(body: bytes) -> ParsedRequest:
    """An Anthropic Messages body: max_tokens is required there."""
    document, model, stream = _common(body)
    max_tokens = document.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 0:
        raise ApiError(400, "max_tokens: a non-negative integer is required", param="max_tokens",
                       code="invalid_type")
    return ParsedRequest(model, stream, document)


def parse_count_tokens_request(body: bytes) -> ParsedRequest:
    """An Anthropic count_tokens body (no max_tokens, never streamed)."""
    document, model, _ = _common(body)
    return ParsedRequest(model, False, document)


def parse_responses_request(body: bytes) -> ParsedRequest:
    """An OpenAI Responses body: a model, and `input` as a string or a list of items."""
    document = _document(body)
    model = document.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ApiError(400, "model: a non-empty string is required", param="model", code="missing_required_parameter")
    given = document.get("input")
    if not isinstance(given, str | list) or not given:
        raise ApiError(400, "input: a non-empty string or array of input items is required", param="input",
                       code="invalid_type")
    stream = document.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise ApiError(400, "stream: must be a boolean", param="stream", code="invalid_type")
    return ParsedRequest(model, bool(stream), document)


def parse_embeddings_request(body: bytes) -> ParsedRequest:
    """An OpenAI embeddings body: a model and a non-empty `input` (a string, or an array of strings or token
    arrays); never streamed."""
    document = _document(body)
    model = document.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ApiError(400, "model: a non-empty string is required", param="model", code="missing_required_parameter")
    given = document.get("input")
    if not isinstance(given, str | list) or not given:
        raise ApiError(400, "input: a non-empty string or array is required", param="input", code="invalid_type")
    return ParsedRequest(model, False, document)
