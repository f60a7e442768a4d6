"""What the client's stream has carried so far, read from the events the relay is about to send it (issue 16): only a
preamble (an empty message's start, a role chunk, created/in-progress events), its first token, or an error.

Read in the client's API, so one reading serves the native path and every translated one. Until the first token,
the client's response headers are held back: an upstream that fails then (deadline, cut, an in-band overload)
can still be replaced by the next credential or the route's fallback (architecture.md, Contracts).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from frontend import json_codec
from frontend.errors import anthropic_status
from frontend.translate.sse import Event, SseParser

# Events that say an answer has begun, and no more.
ANTHROPIC_PREAMBLE = frozenset({"message_start", "ping"})
RESPONSES_PREAMBLE = frozenset({"response.created", "response.in_progress", "response.queued",
                                "response.output_item.added", "response.content_part.added"})


@dataclass(frozen=True)
class InBandError:
    """An error event read before the first token: the status it stands for, its type and message."""

    status: int
    error_type: str
    message: str


@dataclass(frozen=True)
class Reading:
    token: bool = False  # a token (text, thinking, a tool call) or the answer's end has come
    error: InBandError | None = None  # the stream's first meaningful event is an error


NOTHING = Reading()


def read_events(api_format: str, out: bytes) -> Reading:
    """What whole SSE events `out`, in the client's API, carry: the first token, an error, or only a preamble.
    Parsed an event at a time up to the first that says (an upstream may send a whole answer in one read: its
    first token is in the first events, and parsing the other forty cost ~120 µs a stream)."""
    parser = SseParser()
    for piece in _pieces(out):
        for event in parser.feed(piece):
            reading = _read(api_format, event)
            if reading is not NOTHING:
                return reading
    for event in parser.finish():
        reading = _read(api_format, event)
        if reading is not NOTHING:
            return reading
    return NOTHING


def _pieces(out: bytes) -> Iterator[bytes]:
    """`out` cut after each blank line (the parser takes input cut anywhere); whole when it holds a \r, where
    a blank line may be spelled three ways."""
    if b"\r" in out:
        yield out
        return
    start = 0
    while start < len(out):
        end = out.find(b"\n\n", start)
        if end < 0:
            yield out[start:]
            return
        yield out[start:end + 2]
        start = end + 2


def _field(document: dict[str, Any], name: str) -> dict[str, Any]:
    value = document.get(name)
    return value if isinstance(value, dict) else {}


def _read(api_format: str, event: Event) -> Reading:
    data = event.data.strip()
    if data == "[DONE]":
        return Reading(token=True)
    try:
        document = json_codec.loads(data)
    except (ValueError, RecursionError):
        return Reading(token=True)  # not ours to judge: the client gets it
    if not isinstance(document, dict):
        return NOTHING
    if api_format == "anthropic":
        return _anthropic(event.name or str(document.get("type", "")), document)
    if api_format == "responses":
        return _responses(event.name or str(document.get("type", "")), document)
    return _chat(document)


def _anthropic(name: str, document: dict[str, Any]) -> Reading:
    if name == "error":
        error = _field(document, "error")
        error_type = str(error.get("type") or "api_error")
        return Reading(error=InBandError(anthropic_status(error_type), error_type, str(error.get("message") or "")))
    if name in ANTHROPIC_PREAMBLE:
        return NOTHING
    if name == "content_block_start":
        block = _field(document, "content_block")
        if block.get("type") in ("text", "thinking") and not block.get("text") and not block.get("thinking"):
            return NOTHING
    if name == "content_block_delta":
        delta = _field(document, "delta")
        if not any(delta.get(field) for field in ("text", "thinking", "partial_json", "signature")):
            return NOTHING
    return Reading(token=True)


def _chat(document: dict[str, Any]) -> Reading:
    if isinstance(document.get("error"), dict):
        error = _field(document, "error")
        code, kind = error.get("code"), f"{error.get('type')} {error.get('code')}"
        status = code if isinstance(code, int) and 400 <= code < 600 else (
            429 if "rate_limit" in kind else 400 if "invalid_request" in kind else 500)
        return Reading(error=InBandError(status, str(error.get("type") or "server_error"),
                                         str(error.get("message") or "")))
    choices = document.get("choices")
    for choice in choices if isinstance(choices, list) else []:
        if not isinstance(choice, dict):
            continue
        if choice.get("finish_reason"):
            return Reading(token=True)
        delta = _field(choice, "delta")
        if any(delta.get(field) for field in ("content", "reasoning_content", "reasoning", "tool_calls", "refusal",
                                              "function_call")):
            return Reading(token=True)
    return NOTHING


def _responses(name: str, document: dict[str, Any]) -> Reading:
    if name in ("error", "response.failed"):
        error = document
        if name == "response.failed":
            error = _field(_field(document, "response"), "error")
        code = str(error.get("code") or "server_error")
        status = 429 if "rate_limit" in code else 400 if "invalid" in code else 500
        return Reading(error=InBandError(status, code, str(error.get("message") or "")))
    if name in RESPONSES_PREAMBLE:
        item = _field(document, "item")
        if name != "response.output_item.added" or item.get("type") in ("message", "reasoning", None):
            return NOTHING
    if name.endswith(".delta") and not document.get("delta"):
        return NOTHING
    return Reading(token=True)
