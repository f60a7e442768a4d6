"""Responses tools ↔ Chat functions: flat and nested, tool_choice, allowed_tools, and Codex's namespaced and
custom tools flattened under names that map back."""

from __future__ import annotations

import re

import pytest
from openai.types.responses import Response

from dario.testing import openai_wire
from frontend.translate.responses.answer import chat_to_response
from frontend.translate.responses.request_to_anthropic import responses_to_anthropic
from frontend.translate.responses.request_to_chat import responses_to_chat
from tests.unit.frontend.translate.responses.checks import CODEX, CODEX_NAMES, EXEC_GRAMMAR, FUNCTION_TOOLS


def test_function_tools_are_flat_in_responses_and_nested_in_chat() -> None:
    body, _ = responses_to_chat({"input": "x", "tools": [
        {"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}, "strict": True},
        {"type": "function", "name": "g"}], "parallel_tool_calls": False}, "gpt-4o")
    assert body["tools"] == [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}, "description": "d",
                                          "strict": True}},
        {"type": "function", "function": {"name": "g", "parameters": {"type": "object", "properties": {}}}}]
    assert body["parallel_tool_calls"] is False


@pytest.mark.parametrize(("choice", "expected"), [
    ("auto", "auto"), ("none", "none"), ("required", "required"),
    ({"type": "function", "name": "g"}, {"type": "function", "function": {"name": "g"}})])
def test_tool_choice(choice: object, expected: object) -> None:
    body, _ = responses_to_chat({"input": "x", "tools": FUNCTION_TOOLS, "tool_choice": choice}, "gpt-4o")
    assert body["tool_choice"] == expected


def test_allowed_tools_filters_the_tools() -> None:
    body, _ = responses_to_chat({"input": "x", "tools": FUNCTION_TOOLS, "tool_choice": {
        "type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "get_time"}]}}, "gpt-4o")
    assert [tool["function"]["name"] for tool in body["tools"]] == ["get_time"]
    assert body["tool_choice"] == "required"


def test_tool_settings_without_tools_are_left_out() -> None:
    body, _ = responses_to_chat({"input": "x", "tool_choice": "auto", "parallel_tool_calls": True}, "gpt-4o")
    assert "tool_choice" not in body and "parallel_tool_calls" not in body


def test_codex_tools_are_merged_flattened_and_server_tools_dropped_with_a_warning() -> None:
    chat, warnings = responses_to_chat(CODEX, "qwen3-coder")
    assert [tool["function"]["name"] for tool in chat["tools"]] == CODEX_NAMES
    assert warnings == ["tools[2] (web_search)"]
    assert [message["role"] for message in chat["messages"]] == ["system", "user"]
    exec_tool = chat["tools"][2]["function"]
    assert exec_tool["parameters"]["required"] == ["input"] and EXEC_GRAMMAR in exec_tool["description"]
    assert exec_tool["description"].startswith("Runs a shell command.")
    anthropic, warnings = responses_to_anthropic(CODEX, "claude-sonnet-5", 8192)
    assert [tool["name"] for tool in anthropic["tools"]] == CODEX_NAMES and "tools[2] (web_search)" in warnings


def test_long_namespaced_names_are_shortened_deterministically_and_map_back() -> None:
    namespace = "mcp.server-" + "x" * 70
    document = {"input": "x", "tools": [{"type": "namespace", "name": namespace, "description": "", "tools": [
        {"type": "function", "name": "do it", "parameters": {"type": "object"}}]}]}
    name = responses_to_chat(document, "gpt-4o")[0]["tools"][0]["function"]["name"]
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name) and name == responses_to_chat(document, "gpt-4o")[0][
        "tools"][0]["function"]["name"]
    completion = openai_wire.completion("g", "", None, tools=[(name, {})])
    call = Response.model_validate(chat_to_response(completion, "alias", document)).output[-1]
    assert (call.namespace, call.name) == (namespace, "do it")


def test_tool_choice_names_custom_and_namespaced_tools_by_their_chat_names() -> None:
    body, _ = responses_to_chat({**CODEX, "tool_choice": {"type": "custom", "name": "exec"}}, "g")
    assert body["tool_choice"] == {"type": "function", "function": {"name": "functions__exec"}}
    body, _ = responses_to_chat({**CODEX, "tool_choice": {"type": "allowed_tools", "mode": "required", "tools": [
        {"type": "function", "name": "spawn_agent"}, {"type": "web_search"}]}}, "g")
    assert [tool["function"]["name"] for tool in body["tools"]] == ["multi_agent_v1__spawn_agent"]
