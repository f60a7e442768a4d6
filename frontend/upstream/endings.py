"""How a client's stream ends when it fails after its first byte (issue 16), in each API's own terms: Anthropic's
`event: error`; a Chat Completions error chunk, then `data: [DONE]`; a Responses `error` event, then
`response.failed` (the terminal event Codex and the SDK wait for). Nothing ever follows `[DONE]`."""

from __future__ import annotations

import json
import re

from frontend.errors import anthropic_stream_error_event, openai_stream_error_event, responses_stream_error_event

DONE = b"data: [DONE]\n\n"
_RESPONSE_ID = re.compile(rb'"id": ?"(resp_[^"]{1,200})"')
_CHAT_ERROR = re.compile(rb'(?:^|\n)data: ?\{ ?"error"')


def terminal_error(api_format: str, message: str, code: str, head: bytes = b"") -> bytes:
    """The terminal error of a stream in the client's API; `head`, the stream's first bytes, gives a Responses
    stream its response id."""
    if api_format == "anthropic":
        return anthropic_stream_error_event(message, code)
    if api_format == "responses":
        found = _RESPONSE_ID.search(head)
        identifier = found.group(1).decode("ascii", "replace") if found else "resp_dario"
        failed = {"type": "response.failed", "sequence_number": 0, "response": {
            "id": identifier, "object": "response", "status": "failed", "output": [],
            "error": {"code": "server_error", "message": message}, "incomplete_details": None, "usage": None}}
        return (responses_stream_error_event(message, code)
                + b"event: response.failed\ndata: " + json.dumps(failed).encode() + b"\n\n")
    return openai_stream_error_event(message, code) + DONE


def closing(api_format: str, tail: bytes) -> bytes:
    """What a Chat Completions stream still needs after its last event when that was an error chunk: `[DONE]`
    (the translating machines end on the error chunk alone)."""
    if api_format != "openai" or b'"error"' not in tail:  # (nearly every stream: no error chunk to look for)
        return b""
    done = tail.rfind(b"[DONE]")
    errors = [match.start() for match in _CHAT_ERROR.finditer(tail)]
    return DONE if errors and errors[-1] > done else b""
