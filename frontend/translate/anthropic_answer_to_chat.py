"""Whole (non-streamed) answers and errors, translated between the two formats (TRANSLATION.md §6, §8)."""

from __future__ import annotations

import json
import time
import uuid

from frontend.translate import lenient_object, lenient_objects, lenient_text
from frontend.translate.chat_to_anthropic import tool_id

FINISH_FROM_STOP = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
                    "refusal": "content_filter", "model_context_window_exceeded": "length", "pause_turn": "stop"}
STOP_FROM_FINISH = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
                    "content_filter": "refusal"}
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


def finish_reason(stop_reason: object, saw_tool: bool) -> str:
    stop_reason = lenient_text(stop_reason) or None
    if saw_tool and stop_reason in (None, "end_turn", "stop_sequence"):
        return "tool_calls"
    return FINISH_FROM_STOP.get(stop_reason or "end_turn", "stop")


def stop_reason(finish: object, saw_tool: bool) -> str:
    """OpenAI finish_reason → Anthropic stop_reason, with the overrides of §6.2."""
    reason = STOP_FROM_FINISH.get(lenient_text(finish) or "stop", "end_turn")
    if saw_tool and reason == "end_turn":
        return "tool_use"
    if not saw_tool and reason == "tool_use":
        return "end_turn"
    return reason


def _number(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def openai_usage(usage: dict) -> dict:
    """Anthropic usage → OpenAI usage: prompt_tokens includes cache reads and writes."""
    cache_read = _number(usage.get("cache_read_input_tokens"))
    cache_write = _number(usage.get("cache_creation_input_tokens"))
    prompt = _number(usage.get("input_tokens")) + cache_read + cache_write
    completion = _number(usage.get("output_tokens"))
    result = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
              "prompt_tokens_details": {"cached_tokens": cache_read, "cache_write_tokens": cache_write}}
    thinking = lenient_object(usage.get("output_tokens_details")).get("thinking_tokens")
    if isinstance(thinking, int):
        result["completion_tokens_details"] = {"reasoning_tokens": thinking}
    return result


def anthropic_usage(usage: dict | None) -> dict:
    """OpenAI usage → Anthropic usage: input_tokens excludes cache reads and writes; all four counters, always."""
    usage = lenient_object(usage)
    details = lenient_object(usage.get("prompt_tokens_details"))
    cached, written = _number(details.get("cached_tokens")), _number(details.get("cache_write_tokens"))
    result = {"input_tokens": max(_number(usage.get("prompt_tokens")) - cached - written, 0),
              "output_tokens": _number(usage.get("completion_tokens")),
              "cache_creation_input_tokens": written, "cache_read_input_tokens": cached}
    reasoning = lenient_object(usage.get("completion_tokens_details")).get("reasoning_tokens")
    if isinstance(reasoning, int) and reasoning > 0:
        result["output_tokens_details"] = {"thinking_tokens": reasoning}
    return result


def tool_input(arguments: object) -> dict:
    """OpenAI arguments (a JSON string, maybe empty or broken) → an Anthropic tool input object."""
    try:
        value = json.loads(arguments) if isinstance(arguments, str) and arguments.strip() else {}
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {"value": value}


def to_openai_completion(message: dict, model: str) -> dict:
    texts, calls, reasoning = [], [], []
    for block in lenient_objects(message.get("content")):
        kind = block.get("type")
        if kind == "text":
            texts.append(lenient_text(block.get("text")))
        elif kind == "tool_use":
            calls.append({"id": lenient_text(block.get("id")), "type": "function", "function": {
                "name": lenient_text(block.get("name")),
                "arguments": json.dumps(block.get("input") or {}, ensure_ascii=False)}})
        elif kind == "thinking":
            reasoning.append(lenient_text(block.get("thinking")))
    text = "".join(texts)
    answer: dict = {"role": "assistant", "content": text if text or not calls else None, "refusal": None}
    if calls:
        answer["tool_calls"] = calls
    if reasoning:
        answer["reasoning_content"] = "".join(reasoning)
    if message.get("stop_reason") == "refusal":
        explanation = lenient_text(lenient_object(message.get("stop_details")).get("explanation"))
        answer["refusal"] = explanation or text or "refused"
    return {"id": "chatcmpl-" + (lenient_text(message.get("id")) or uuid.uuid4().hex), "object": "chat.completion",
            "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": answer, "logprobs": None,
                         "finish_reason": finish_reason(message.get("stop_reason"), bool(calls))}],
            "usage": openai_usage(lenient_object(message.get("usage")))}


def to_anthropic_message(completion: dict, model: str) -> dict:
    choices = lenient_objects(completion.get("choices"))[:1] or [{}]
    answer = lenient_object(choices[0].get("message"))
    content: list[dict] = []
    reasoning = answer.get("reasoning_content") or answer.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = answer.get("content")
    if isinstance(text, list):
        text = "".join(lenient_text(part.get("text")) for part in lenient_objects(text))
    if isinstance(text, str) and text.strip():
        content.append({"type": "text", "text": text})
    for call in lenient_objects(answer.get("tool_calls")):
        function = lenient_object(call.get("function"))
        content.append({"type": "tool_use", "id": tool_id(call.get("id") or "toolu_" + uuid.uuid4().hex[:24]),
                        "name": lenient_text(function.get("name")), "input": tool_input(function.get("arguments"))})
    saw_tool = any(block["type"] == "tool_use" for block in content)
    reason = stop_reason(choices[0].get("finish_reason"), saw_tool)
    message = {"id": "msg_" + tool_id(str(completion.get("id") or uuid.uuid4().hex)), "type": "message",
               "role": "assistant", "model": model, "content": content, "stop_reason": reason,
               "stop_sequence": None, "usage": anthropic_usage(completion.get("usage"))}
    if reason == "refusal":
        message["stop_details"] = {"type": "refusal", "category": None,
                                   "explanation": lenient_text(answer.get("refusal")) or None}
    return message


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
