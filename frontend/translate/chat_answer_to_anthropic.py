"""A whole Chat Completion → an Anthropic Message for an Anthropic client (translation.md §5.1, §5.3, §5.2):
reasoning, text and tool calls as blocks, the stop_reason, and the usage counted as Anthropic counts it."""

from __future__ import annotations

import json
import uuid

from dario.json_types import JsonObject
from frontend.translate import lenient_count, lenient_object, lenient_objects, lenient_text
from frontend.translate.chat_to_anthropic import tool_id

# The signature of a thinking block dario made from an OpenAI-compatible upstream's reasoning: no Anthropic backend
# can verify it, so a request carrying it back is cleaned first (translate.thinking_history, translation.md §5.3).
SYNTHETIC_SIGNATURE = "dario.v1.synthetic"
STOP_FROM_FINISH = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
                    "content_filter": "refusal"}


def stop_reason(finish: object, saw_tool: bool) -> str:
    """OpenAI finish_reason → Anthropic stop_reason, with the overrides of §6.2."""
    reason = STOP_FROM_FINISH.get(lenient_text(finish) or "stop", "end_turn")
    if saw_tool and reason == "end_turn":
        return "tool_use"
    if not saw_tool and reason == "tool_use":
        return "end_turn"
    return reason


def anthropic_usage(usage: JsonObject | None) -> JsonObject:
    """OpenAI usage → Anthropic usage: input_tokens excludes cache reads and writes; all four counters, always."""
    usage = lenient_object(usage)
    details = lenient_object(usage.get("prompt_tokens_details"))
    cached, written = lenient_count(details.get("cached_tokens")), lenient_count(details.get("cache_write_tokens"))
    result: JsonObject = {"input_tokens": max(lenient_count(usage.get("prompt_tokens")) - cached - written, 0),
                          "output_tokens": lenient_count(usage.get("completion_tokens")),
                          "cache_creation_input_tokens": written, "cache_read_input_tokens": cached}
    reasoning = lenient_object(usage.get("completion_tokens_details")).get("reasoning_tokens")
    if isinstance(reasoning, int) and reasoning > 0:
        result["output_tokens_details"] = {"thinking_tokens": reasoning}
    return result


def tool_input(arguments: object) -> JsonObject:
    """OpenAI arguments (a JSON string, maybe empty or broken) → an Anthropic tool input object."""
    try:
        value = json.loads(arguments) if isinstance(arguments, str) and arguments.strip() else {}
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {"value": value}


def to_anthropic_message(completion: JsonObject, model: str, thinking: bool = True) -> JsonObject:
    """`thinking`: the client enabled thinking, so the upstream's reasoning comes back as a thinking block (as the
    stream machine does it: the same blocks either way)."""
    choices = lenient_objects(completion.get("choices"))[:1] or [{}]
    answer = lenient_object(choices[0].get("message"))
    content: list[JsonObject] = []
    reasoning = answer.get("reasoning_content") or answer.get("reasoning")
    if thinking and isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": SYNTHETIC_SIGNATURE})
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
