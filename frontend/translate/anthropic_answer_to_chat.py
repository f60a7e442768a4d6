"""A whole Anthropic Message → a Chat Completion for an OpenAI client (translation.md §5, §5.1, §5.2): text,
tool calls and thinking, the finish_reason, and the usage counted as Chat counts it."""

from __future__ import annotations

import json
import time
import uuid

from dario.json_types import JsonObject
from frontend.translate import lenient_count, lenient_object, lenient_objects, lenient_text

FINISH_FROM_STOP = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
                    "refusal": "content_filter", "model_context_window_exceeded": "length", "pause_turn": "stop"}


def finish_reason(stop_reason: object, saw_tool: bool) -> str:
    stop_reason = lenient_text(stop_reason) or None
    if saw_tool and stop_reason in (None, "end_turn", "stop_sequence"):
        return "tool_calls"
    return FINISH_FROM_STOP.get(stop_reason or "end_turn", "stop")


def chat_usage(usage: JsonObject) -> JsonObject:
    """Anthropic usage → OpenAI usage: prompt_tokens includes cache reads and writes."""
    cache_read = lenient_count(usage.get("cache_read_input_tokens"))
    cache_write = lenient_count(usage.get("cache_creation_input_tokens"))
    prompt = lenient_count(usage.get("input_tokens")) + cache_read + cache_write
    completion = lenient_count(usage.get("output_tokens"))
    result = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
              "prompt_tokens_details": {"cached_tokens": cache_read, "cache_write_tokens": cache_write}}
    thinking = lenient_object(usage.get("output_tokens_details")).get("thinking_tokens")
    if isinstance(thinking, int):
        result["completion_tokens_details"] = {"reasoning_tokens": thinking}
    return result


def to_chat_completion(message: JsonObject, model: str, include_reasoning: bool = True) -> JsonObject:
    """`include_reasoning`: the client asked for reasoning (reasoning_effort), so thinking comes back as
    reasoning_content (as the stream machine does it)."""
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
    answer: JsonObject = {"role": "assistant", "content": text if text or not calls else None, "refusal": None}
    if calls:
        answer["tool_calls"] = calls
    if reasoning and include_reasoning:
        answer["reasoning_content"] = "".join(reasoning)
    if message.get("stop_reason") == "refusal":
        explanation = lenient_text(lenient_object(message.get("stop_details")).get("explanation"))
        answer["refusal"] = explanation or text or "refused"
    return {"id": "chatcmpl-" + (lenient_text(message.get("id")) or uuid.uuid4().hex), "object": "chat.completion",
            "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": answer, "logprobs": None,
                         "finish_reason": finish_reason(message.get("stop_reason"), bool(calls))}],
            "usage": chat_usage(lenient_object(message.get("usage")))}
