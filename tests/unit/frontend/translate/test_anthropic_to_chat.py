"""Anthropic Messages requests → Chat Completions requests, table-driven on shapes from the SDKs' types
(translation.md §3)."""

from __future__ import annotations

import pytest

from frontend.translate import TranslationError
from frontend.translate.anthropic_to_chat import to_chat_request

USER = {"role": "user", "content": "hi"}


def to_openai(**fields: object) -> tuple[dict, list[str]]:
    document = {"model": "gpt-4o", "max_tokens": 100, "messages": [USER], **fields}
    return to_chat_request(document, document["model"])


def test_claude_code_shaped_request_maps_to_openai() -> None:
    body, warnings = to_openai(
        system=[{"type": "text", "text": "You are Claude Code."},
                {"type": "text", "text": "Env.", "cache_control": {"type": "ephemeral"}}],
        messages=[USER, {"role": "system", "content": "Reminder."}],
        metadata={"user_id": '{"device_id":"abc","session_id":"def"}'},
        thinking={"type": "enabled", "budget_tokens": 4000},
        context_management={"edits": []},
        tools=[{"name": "Bash", "description": "run", "input_schema": {"type": "object"},
                "cache_control": {"type": "ephemeral"}}],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
        stream=True,
    )
    assert body["messages"][0] == {"role": "system", "content": "You are Claude Code.\n\nEnv.\n\nReminder."}
    assert body["messages"][1] == {"role": "user", "content": "hi"}
    assert len(body["user"]) == 64 and "device_id" not in body["user"]
    assert body["tools"] == [{"type": "function", "function": {"name": "Bash", "parameters": {"type": "object"},
                                                               "description": "run"}}]
    assert body["tool_choice"] == "auto" and body["parallel_tool_calls"] is False
    assert body["stream_options"] == {"include_usage": True}
    assert "context_management" not in body and "reasoning_effort" not in body
    assert warnings == ["thinking"]  # gpt-4o takes no reasoning_effort; the answer does not depend on it


def test_reasoning_models_get_reasoning_effort() -> None:
    document = {"model": "o3-mini", "max_tokens": 10, "messages": [USER], "output_config": {"effort": "max"}}
    body, _ = to_chat_request(document, "o3-mini")
    assert body["reasoning_effort"] == "high"


@pytest.mark.parametrize(
    ("choice", "expected"),
    [({"type": "auto"}, "auto"), ({"type": "any"}, "required"), ({"type": "none"}, "none"),
     ({"type": "tool", "name": "f"}, {"type": "function", "function": {"name": "f"}})],
)
def test_anthropic_tool_choice_maps(choice: dict, expected: object) -> None:
    body, _ = to_openai(tools=[{"name": "f", "input_schema": {"type": "object"}}], tool_choice=choice)
    assert body["tool_choice"] == expected


def test_tool_choice_without_tools_is_omitted() -> None:
    body, _ = to_openai(tool_choice={"type": "auto"})
    assert "tool_choice" not in body and "tools" not in body


def test_tool_results_come_first_with_images_after_and_duplicates_dropped() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QUJD"}}
    body, _ = to_openai(messages=[USER, {"role": "assistant", "content": [
        {"type": "tool_use", "id": "t1", "name": "shot", "input": {}}]}, {"role": "user", "content": [
            {"type": "text", "text": "here"},
            {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "done"}, image]},
            {"type": "tool_result", "tool_use_id": "t1", "content": "again"}]}])
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "t1", "content": "done"}
    assert body["messages"][3] == {"role": "user", "content": [
        {"type": "text", "text": "here"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}}]}
    assert len(body["messages"]) == 4


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0]"),
        ({"mcp_servers": [{"type": "url", "url": "https://mcp.invalid"}]}, "mcp_servers"),
        ({"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]}, "messages[0].content[0]"),
        ({"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}]},
         "messages[0].content[0]"),
    ],
)
def test_what_openai_backends_cannot_do_is_refused_by_name(fields: dict, param: str) -> None:
    with pytest.raises(TranslationError) as caught:
        to_openai(**fields)
    assert caught.value.param == param


def test_stop_sampling_and_structured_output() -> None:
    body, warnings = to_openai(stop_sequences=["X"], temperature=0.3, top_k=5,
                               output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}})
    assert body["stop"] == ["X"] and body["temperature"] == 0.3
    assert body["response_format"]["json_schema"]["schema"] == {"type": "object"}
    assert warnings == ["top_k"]
