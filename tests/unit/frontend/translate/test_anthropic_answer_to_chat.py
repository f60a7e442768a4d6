"""Whole answers, stop reasons, usage and errors across the two formats (TRANSLATION.md §6, §8)."""

from __future__ import annotations

import json

import pytest

from frontend.translate.anthropic_answer_to_chat import chat_usage, finish_reason, to_chat_completion
from frontend.translate.chat_answer_to_anthropic import anthropic_usage, stop_reason, to_anthropic_message
from frontend.translate.upstream_errors import error_to_anthropic, error_to_openai
from tests.support import anthropic_wire, openai_wire


@pytest.mark.parametrize(
    ("stop", "saw_tool", "finish"),
    [("end_turn", False, "stop"), ("stop_sequence", False, "stop"), ("max_tokens", False, "length"),
     ("tool_use", True, "tool_calls"), ("refusal", False, "content_filter"),
     ("model_context_window_exceeded", False, "length"), ("end_turn", True, "tool_calls"), (None, False, "stop")],
)
def test_stop_reason_to_finish_reason(stop: str | None, saw_tool: bool, finish: str) -> None:
    assert finish_reason(stop, saw_tool) == finish


@pytest.mark.parametrize(
    ("finish", "saw_tool", "stop"),
    [("stop", False, "end_turn"), ("length", False, "max_tokens"), ("tool_calls", True, "tool_use"),
     ("content_filter", False, "refusal"), (None, False, "end_turn"), ("stop", True, "tool_use"),
     ("tool_calls", False, "end_turn"), ("length", True, "max_tokens"), ("function_call", True, "tool_use")],
)
def test_finish_reason_to_stop_reason_with_overrides(finish: str | None, saw_tool: bool, stop: str) -> None:
    assert stop_reason(finish, saw_tool) == stop


def test_usage_formulas_both_ways() -> None:
    assert chat_usage(anthropic_wire.usage(10, 5, cache_read=100, cache_creation=20)) == {
        "prompt_tokens": 130, "completion_tokens": 5, "total_tokens": 135,
        "prompt_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 20}}
    assert anthropic_usage(openai_wire.usage(130, 5, cached=100, reasoning=3)) == {
        "input_tokens": 30, "output_tokens": 5, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 100,
        "output_tokens_details": {"thinking_tokens": 3}}
    assert anthropic_usage(None) == {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                                     "cache_read_input_tokens": 0}


def test_anthropic_message_to_openai_completion() -> None:
    message = anthropic_wire.message("claude-opus-5", "Hi ", anthropic_wire.usage(3, 4), tools=[("f", {"a": 1})])
    completion = to_chat_completion(message, "claude-opus-5")
    choice = completion["choices"][0]
    assert completion["object"] == "chat.completion" and completion["id"].startswith("chatcmpl-msg_")
    assert choice["message"]["content"] == "Hi " and choice["finish_reason"] == "tool_calls"
    assert json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"]) == {"a": 1}


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


@pytest.mark.parametrize(
    ("status", "error_type", "openai_type", "code"),
    [(400, "invalid_request_error", "invalid_request_error", None),
     (401, "authentication_error", "authentication_error", "invalid_api_key"),
     (429, "rate_limit_error", "rate_limit_error", "rate_limit_exceeded"),
     (529, "overloaded_error", "overloaded_error", None), (500, "api_error", "server_error", None)],
)
def test_anthropic_errors_for_openai_clients(status: int, error_type: str, openai_type: str, code: str | None) -> None:
    body = json.dumps({"type": "error", "error": {"type": error_type, "message": "m"}}).encode()
    assert error_to_openai(status, body) == {"error": {"message": "m", "type": openai_type, "param": None,
                                                       "code": code}}


@pytest.mark.parametrize(("status", "expected"), [(400, "invalid_request_error"), (401, "authentication_error"),
                                                  (404, "not_found_error"), (429, "rate_limit_error"),
                                                  (500, "api_error"), (503, "overloaded_error")])
def test_openai_errors_for_anthropic_clients(status: int, expected: str) -> None:
    body = json.dumps(openai_wire.error_body(status)).encode()
    assert error_to_anthropic(status, body)["error"]["type"] == expected


def test_quota_and_html_errors() -> None:
    quota = json.dumps({"error": {"message": "quota", "type": "insufficient_quota", "code": "insufficient_quota"}})
    assert error_to_anthropic(429, quota.encode())["error"]["type"] == "billing_error"
    assert "non-JSON (status 502)" in error_to_openai(502, b"<html>bad gateway</html>")["error"]["message"]
