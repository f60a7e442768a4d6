"""Builders of OpenAI Chat Completions wire bodies (the shapes of the openai SDK's types), for the scripted upstream."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence

from dario.json_types import JsonObject


def completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def usage(prompt_tokens: int, completion_tokens: int, cached: int = 0, reasoning: int = 0) -> JsonObject:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0},
    }


def tool_calls(tools: list[tuple[str, JsonObject]]) -> list[JsonObject]:
    return [{"id": f"call_{index}{uuid.uuid4().hex[:8]}", "type": "function",
             "function": {"name": name, "arguments": json.dumps(arguments)}}
            for index, (name, arguments) in enumerate(tools)]


def completion(model: str, content: str, usage_body: JsonObject | None,
               tools: Sequence[tuple[str, JsonObject]] = ()) -> JsonObject:
    body: JsonObject = {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_scripted",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content or None, "refusal": None},
                "logprobs": None,
                "finish_reason": "tool_calls" if tools else "stop",
            }
        ],
    }
    if tools:
        body["choices"][0]["message"]["tool_calls"] = tool_calls(list(tools))
    if usage_body is not None:
        body["usage"] = usage_body
    return body


def rate_limit_headers(remaining_requests: int) -> dict[str, str]:
    """OpenAI's rate-limit headers; the resets are durations ("6m0s", "20ms"), not timestamps."""
    return {
        "x-ratelimit-limit-requests": "10000",
        "x-ratelimit-remaining-requests": str(max(0, remaining_requests)),
        "x-ratelimit-reset-requests": "6m0s",
        "x-ratelimit-limit-tokens": "2000000",
        "x-ratelimit-remaining-tokens": "1999000",
        "x-ratelimit-reset-tokens": "20ms",
    }


def _chunk(identifier: str, created: int, model: str, delta: JsonObject, finish_reason: str | None) -> JsonObject:
    return {
        "id": identifier,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_scripted",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def sse(document: JsonObject | str) -> bytes:
    payload = document if isinstance(document, str) else json.dumps(document, ensure_ascii=False)
    return f"data: {payload}\n\n".encode()


def stream_events(model: str, content: str, usage_body: JsonObject | None, include_usage: bool, piece: int = 4,
                  tools: Sequence[tuple[str, JsonObject]] = ()) -> bytes:
    """A whole streamed answer: role chunk, content chunks, tool call chunks, finish chunk, usage chunk, [DONE]."""
    identifier, created = completion_id(), int(time.time())
    deltas: list[JsonObject] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": content[start : start + piece]} for start in range(0, len(content), piece)]
    for index, call in enumerate(tool_calls(list(tools))):
        deltas.append({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                       "function": {"name": call["function"]["name"], "arguments": ""}}]})
        arguments = call["function"]["arguments"]
        deltas += [{"tool_calls": [{"index": index, "function": {"arguments": arguments[start : start + 7]}}]}
                   for start in range(0, len(arguments), 7)]
    chunks = [_chunk(identifier, created, model, delta, None) for delta in deltas]
    chunks.append(_chunk(identifier, created, model, {}, "tool_calls" if tools else "stop"))
    if include_usage and usage_body is not None:
        for chunk in chunks:  # with include_usage, OpenAI sends "usage": null on every chunk before the last
            chunk["usage"] = None
        chunks.append({"id": identifier, "object": "chat.completion.chunk", "created": created, "model": model,
                       "system_fingerprint": "fp_scripted", "choices": [], "usage": usage_body})
    return b"".join(sse(chunk) for chunk in chunks) + sse("[DONE]")


ERRORS = {  # status: (type, code, message, param)
    400: ("invalid_request_error", "invalid_value", "Invalid value for 'temperature': must be between 0 and 2.",
          "temperature"),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided: test-****. You can find your "
          "API key at https://platform.openai.com/account/api-keys."),
    404: ("invalid_request_error", "model_not_found", "The model `nope` does not exist."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again in 1s."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def error_body(status: int) -> JsonObject:
    error_type, code, message, *param = ERRORS.get(status, ("server_error", None, f"error {status}"))
    return {"error": {"message": message, "type": error_type, "param": param[0] if param else None, "code": code}}


def response(model: str, content: str, input_tokens: int, output_tokens: int) -> JsonObject:
    """A whole Responses API answer (POST /v1/responses, not streamed) with one output_text message."""
    return {
        "id": "resp_" + uuid.uuid4().hex, "object": "response", "created_at": int(time.time()), "status": "completed",
        "model": model, "error": None, "incomplete_details": None, "instructions": None, "metadata": {},
        "parallel_tool_calls": True, "temperature": 1.0, "tool_choice": "auto", "tools": [], "top_p": 1.0,
        "output": [{"id": "msg_" + uuid.uuid4().hex, "type": "message", "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": content, "annotations": []}]}],
        "usage": {"input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
                  "total_tokens": input_tokens + output_tokens},
    }
