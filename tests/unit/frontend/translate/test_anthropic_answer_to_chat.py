"""Whole Anthropic Messages → Chat Completions: finish reasons, usage, content (translation.md §5, §5.1)."""

from __future__ import annotations

import json

import pytest

from dario.testing import anthropic_wire
from frontend.translate.anthropic_answer_to_chat import chat_usage, finish_reason, to_chat_completion


@pytest.mark.parametrize(
    ("stop", "saw_tool", "finish"),
    [("end_turn", False, "stop"), ("stop_sequence", False, "stop"), ("max_tokens", False, "length"),
     ("tool_use", True, "tool_calls"), ("refusal", False, "content_filter"),
     ("model_context_window_exceeded", False, "length"), ("end_turn", True, "tool_calls"), (None, False, "stop")],
)
def test_stop_reason_to_finish_reason(stop: str | None, saw_tool: bool, finish: str) -> None:
    assert finish_reason(stop, saw_tool) == finish


def test_usage_formula_counts_cache_reads_and_writes_in_the_prompt() -> None:
    assert chat_usage(anthropic_wire.usage(10, 5, cache_read=100, cache_creation=20)) == {
        "prompt_tokens": 130, "completion_tokens": 5, "total_tokens": 135,
        "prompt_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 20}}


def test_anthropic_message_to_openai_completion() -> None:
    message = anthropic_wire.message("claude-opus-5", "Hi ", anthropic_wire.usage(3, 4), tools=[("f", {"a": 1})])
    completion = to_chat_completion(message, "claude-opus-5")
    choice = completion["choices"][0]
    assert completion["object"] == "chat.completion" and completion["id"].startswith("chatcmpl-msg_")
    assert choice["message"]["content"] == "Hi " and choice["finish_reason"] == "tool_calls"
    assert json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"]) == {"a": 1}
