"""Builders of Anthropic Messages wire bodies (the shapes of the anthropic SDK's types), for the scripted upstream."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence

from dario.json_types import JsonObject


def message_id() -> str:
    return "msg_" + uuid.uuid4().hex[:24]


def usage(input_tokens: int, output_tokens: int, cache_read: int = 0, cache_creation: int = 0) -> JsonObject:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": cache_creation,
        "cache_read_input_tokens": cache_read,
    }


def tool_blocks(tools: list[tuple[str, JsonObject]]) -> list[JsonObject]:
    return [{"type": "tool_use", "id": f"toolu_{index}{uuid.uuid4().hex[:8]}", "name": name, "input": arguments}
            for index, (name, arguments) in enumerate(tools)]


def message(model: str, content: str, usage_body: JsonObject | None,
            tools: Sequence[tuple[str, JsonObject]] = ()) -> JsonObject:
    return {
        "id": message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": ([{"type": "text", "text": content}] if content else []) + tool_blocks(list(tools)),
        "stop_reason": "tool_use" if tools else "end_turn",
        "stop_sequence": None,
        "usage": usage_body or usage(0, 0),
    }


def event(name: str, document: JsonObject) -> bytes:
    return f"event: {name}\ndata: {json.dumps(document, ensure_ascii=False)}\n\n".encode()


def stream_events(model: str, content: str, usage_body: JsonObject | None, piece: int = 4,
                  tools: Sequence[tuple[str, JsonObject]] = ()) -> bytes:
    """A whole streamed message in the API's event order, with `event:` lines as the SDK requires."""
    usage_body = usage_body or usage(0, 0)
    start = dict(message(model, "", usage_body), content=[], stop_reason=None)
    start["usage"] = dict(usage_body, output_tokens=1)
    events = [event("message_start", {"type": "message_start", "message": start}), event("ping", {"type": "ping"})]
    index = 0
    if content:
        events.append(event("content_block_start", {"type": "content_block_start", "index": 0,
                                                    "content_block": {"type": "text", "text": ""}}))
        for offset in range(0, len(content), piece):
            delta = {"type": "text_delta", "text": content[offset : offset + piece]}
            events.append(event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
        events.append(event("content_block_stop", {"type": "content_block_stop", "index": 0}))
        index = 1
    for block in tool_blocks(list(tools)):
        arguments = json.dumps(block.pop("input"))
        events.append(event("content_block_start", {"type": "content_block_start", "index": index,
                                                    "content_block": dict(block, input={})}))
        for offset in range(0, len(arguments), 6):
            delta = {"type": "input_json_delta", "partial_json": arguments[offset : offset + 6]}
            events.append(event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
        events.append(event("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    stop = "tool_use" if tools else "end_turn"
    events += [
        event("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                "usage": {"output_tokens": usage_body["output_tokens"]}}),
        event("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(events)


ERRORS = {
    400: ("invalid_request_error", "max_tokens: Field required"),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "model: nope"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


def error_body(status: int) -> JsonObject:
    error_type, text = ERRORS.get(status, ("api_error", f"error {status}"))
    return {"type": "error", "error": {"type": error_type, "message": text}, "request_id": "req_" + uuid.uuid4().hex}


def rate_limit_headers(remaining: int) -> dict[str, str]:
    """Anthropic's rate-limit headers: every window as limit/remaining/reset, resets as RFC 3339 times."""
    used = max(0, 4000 - remaining)
    reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
    headers = {}
    for window, limit in (("requests", 4000), ("tokens", 400000), ("input-tokens", 300000), ("output-tokens", 80000)):
        headers[f"anthropic-ratelimit-{window}-limit"] = str(limit)
        headers[f"anthropic-ratelimit-{window}-remaining"] = str(max(0, limit - used))
        headers[f"anthropic-ratelimit-{window}-reset"] = reset
    return headers
