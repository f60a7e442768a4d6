"""Whole Chat Completions → Anthropic Messages: stop reasons with their overrides, usage, content
(translation.md §5.1, §5.3)."""

from __future__ import annotations

import pytest

from dario.testing import openai_wire
from frontend.translate.chat_answer_to_anthropic import anthropic_usage, stop_reason, to_anthropic_message


@pytest.mark.parametrize(
    ("finish", "saw_tool", "stop"),
    [("stop", False, "end_turn"), ("length", False, "max_tokens"), ("tool_calls", True, "tool_use"),
     ("content_filter", False, "refusal"), (None, False, "end_turn"), ("stop", True, "tool_use"),
     ("tool_calls", False, "end_turn"), ("length", True, "max_tokens"), ("function_call", True, "tool_use")],
)
def test_finish_reason_to_stop_reason_with_overrides(finish: str | None, saw_tool: bool, stop: str) -> None:
    assert stop_reason(finish, saw_tool) == stop


def test_usage_formula_takes_cache_reads_and_writes_out_of_the_input() -> None:
    assert anthropic_usage(openai_wire.usage(130, 5, cached=100, reasoning=3)) == {
        "input_tokens": 30, "output_tokens": 5, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 100,
        "output_tokens_details": {"thinking_tokens": 3}}
    assert anthropic_usage(None) == {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                                     "cache_read_input_tokens": 0}


def test_openai_completion_to_anthropic_message() -> None:
    completion = openai_wire.completion("gpt-4o", "", openai_wire.usage(9, 2), tools=[("f", {"b": [1]})])
    completion["choices"][0]["message"]["reasoning_content"] = "thought"
    message = to_anthropic_message(completion, "gpt-4o")
    assert [block["type"] for block in message["content"]] == ["thinking", "tool_use"]
    assert message["content"][1]["input"] == {"b": [1]} and message["stop_reason"] == "tool_use"
    assert message["id"].startswith("msg_chatcmpl-")


@pytest.mark.parametrize(("arguments", "expected"), [("", {}), ("{broken", {}), ("[1, 2]", {"value": [1, 2]})])
def test_odd_tool_arguments_become_objects(arguments: str, expected: dict) -> None:
    completion = openai_wire.completion("g", "", None, tools=[("f", {})])
    completion["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = arguments
    assert to_anthropic_message(completion, "g")["content"][0]["input"] == expected


def test_empty_answer_has_empty_content() -> None:
    message = to_anthropic_message({"choices": [{"message": {"content": None}, "finish_reason": "stop"}]}, "g")
    assert message["content"] == [] and message["stop_reason"] == "end_turn"
