"""Responses requests → Chat Completions requests: the conversation, sampling and format fields, and what is
refused by name."""

from __future__ import annotations

import pytest

from frontend.translate import TranslationError
from frontend.translate.responses.request_to_anthropic import responses_to_anthropic
from frontend.translate.responses.request_to_chat import responses_to_chat
from tests.unit.frontend.translate.responses.checks import CODEX, FUNCTION_TOOLS


def test_instructions_and_developer_items_become_one_leading_system_message() -> None:
    body, warnings = responses_to_chat({"instructions": "Rules.", "input": [
        {"role": "developer", "content": "Be terse."},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"role": "system", "content": [{"type": "input_text", "text": "Later rule."}]},
    ]}, "gpt-4o")
    assert body["messages"] == [{"role": "system", "content": "Rules.\n\nBe terse.\n\nLater rule."},
                                {"role": "user", "content": "hi"}]
    assert body["model"] == "gpt-4o" and warnings == []


def test_string_input_is_one_user_message() -> None:
    body, _ = responses_to_chat({"input": "hello"}, "gpt-4o")
    assert body["messages"] == [{"role": "user", "content": "hello"}]


def test_content_parts_map_to_chat_parts() -> None:
    body, _ = responses_to_chat({"input": [{"role": "user", "content": [
        {"type": "input_text", "text": "look"},
        {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "low"},
        {"type": "input_file", "file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"},
        {"type": "input_text", "text": "  "},
    ]}]}, "gpt-4o")
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "low"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}}]


def test_a_tool_loop_becomes_one_assistant_turn_then_tool_messages() -> None:
    body, _ = responses_to_chat({"input": [
        {"role": "user", "content": "weather and time?"},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "opaque"},
        {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
         "content": [{"type": "output_text", "text": "Checking.", "annotations": []}]},
        {"type": "function_call", "call_id": "call_a", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        {"type": "function_call", "call_id": "call_b", "name": "get_time", "arguments": ""},
        {"type": "function_call_output", "call_id": "call_a", "output": "sunny"},
        {"type": "function_call_output", "call_id": "call_b", "output": [
            {"type": "input_text", "text": "noon"}, {"type": "input_image", "image_url": "data:image/png;base64,AA"}]},
        {"role": "user", "content": "thanks"},
    ]}, "gpt-4o")
    assert body["messages"] == [
        {"role": "user", "content": "weather and time?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_b", "content": "noon"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]},
        {"role": "user", "content": "thanks"}]


def test_limits_sampling_and_identity_fields() -> None:
    body, warnings = responses_to_chat({"input": "x", "max_output_tokens": 99, "temperature": 0.3, "top_p": 0.9,
                                        "user": "u", "safety_identifier": "s", "metadata": {"a": "b"},
                                        "prompt_cache_key": "k", "store": False, "service_tier": "auto",
                                        "include": ["reasoning.encrypted_content"], "max_tool_calls": 3}, "gpt-4o")
    # max_tokens, the field every OpenAI-compatible server reads (the openai preset's profile: max_completion_tokens)
    assert {key: body[key] for key in ("max_tokens", "temperature", "top_p", "user", "safety_identifier")} \
        == {"max_tokens": 99, "temperature": 0.3, "top_p": 0.9, "user": "u", "safety_identifier": "s"}
    assert not {"metadata", "prompt_cache_key", "store", "service_tier", "include"} & set(body) and warnings == []


def test_reasoning_effort_and_verbosity_reach_reasoning_models_and_are_warned_elsewhere() -> None:
    document = {"input": "x", "reasoning": {"effort": "high", "summary": "auto"}, "text": {"verbosity": "low"}}
    body, warnings = responses_to_chat(document, "gpt-5.1")
    assert body["reasoning_effort"] == "high" and body["verbosity"] == "low" and warnings == []
    body, warnings = responses_to_chat(document, "llama-3.3-70b")
    assert "reasoning_effort" not in body and warnings == ["reasoning.effort", "text.verbosity"]


@pytest.mark.parametrize(("text_format", "expected"), [
    ({"type": "text"}, None),
    ({"type": "json_object"}, {"type": "json_object"}),
    ({"type": "json_schema", "name": "answer", "schema": {"type": "object"}, "strict": True},
     {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True}})])
def test_text_format_becomes_response_format(text_format: dict, expected: dict | None) -> None:
    body, _ = responses_to_chat({"input": "x", "text": {"format": text_format}}, "gpt-4o")
    assert body.get("response_format") == expected


def test_streaming_asks_for_usage() -> None:
    body, _ = responses_to_chat({"input": "x", "stream": True}, "gpt-4o")
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(("extra", "param"), [
    ({"store": True}, "store"), ({"previous_response_id": "resp_1"}, "previous_response_id"),
    ({"conversation": "conv_1"}, "conversation"), ({"background": True}, "background"),
    ({"prompt": {"id": "pmpt_1"}}, "prompt"), ({"top_logprobs": 2}, "top_logprobs"),
    ({"include": ["message.output_text.logprobs"]}, "include"),
    ({"tools": FUNCTION_TOOLS, "tool_choice": {"type": "file_search"}}, "tool_choice"),
    ({"tools": [FUNCTION_TOOLS[0], {"type": "web_search"}], "tool_choice": {"type": "web_search"}}, "tool_choice"),
    ({"tools": [{"type": "web_search"}], "tool_choice": {"type": "web_search_preview"}}, "tool_choice"),
    ({"tools": [{"name": "f"}]}, "tools[0].type"),
    ({"tools": [{"type": "namespace", "tools": []}]}, "tools[0].name"),
    ({"input": [{"type": "custom_tool_call", "name": "exec", "input": "ls"}]}, "input[0].call_id"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]"),
    ({"input": [{"role": "user", "content": "a"}, {"type": "computer_call_output", "call_id": "c"}]},
     "input[1].type"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}]},
     "input[0].content[0].file_id"),
    ({"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "input[0].call_id"),
    ({"input": []}, "input"),
])
def test_fields_that_cannot_be_honoured_are_refused_by_name(extra: dict, param: str) -> None:
    with pytest.raises(TranslationError) as raised:
        responses_to_chat({"input": "x", **extra}, "gpt-4o")
    assert raised.value.param == param


def test_store_false_or_absent_is_fine() -> None:
    for document in ({"input": "x"}, {"input": "x", "store": False}, {"input": "x", "store": None}):
        responses_to_chat(document, "gpt-4o")


def test_a_codex_style_request_translates_without_refusals() -> None:
    codex = {
        "model": "gpt-5-codex", "instructions": "You are Codex.", "store": False, "stream": True,
        "include": ["reasoning.encrypted_content"], "prompt_cache_key": "0199", "tool_choice": "auto",
        "parallel_tool_calls": False, "reasoning": {"effort": "medium", "summary": "auto"},
        "text": {"verbosity": "medium"},
        "tools": [{"type": "function", "name": "shell", "description": "Runs a command", "strict": False,
                   "parameters": {"type": "object", "properties": {"command": {"type": "array",
                                                                               "items": {"type": "string"}}},
                                  "required": ["command"], "additionalProperties": False}}],
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "<permissions>"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [], "content": None, "encrypted_content": None},
            {"type": "function_call", "name": "shell", "arguments": '{"command":["ls"]}', "call_id": "call_1"},
            {"type": "function_call_output", "call_id": "call_1", "output": "README.md"},
        ],
    }
    chat, chat_warnings = responses_to_chat(codex, "qwen3-coder")
    assert [message["role"] for message in chat["messages"]] == ["system", "user", "user", "assistant", "tool"]
    assert chat_warnings == ["reasoning.effort", "text.verbosity"]
    anthropic, _ = responses_to_anthropic(codex, "claude-sonnet-5", 8192)
    assert anthropic["thinking"] == {"type": "adaptive"} and anthropic["output_config"]["effort"] == "medium"
    assert [turn["role"] for turn in anthropic["messages"]] == ["user", "assistant", "user"]


def test_a_codex_follow_up_with_custom_and_namespaced_calls_translates() -> None:
    follow_up = {**CODEX, "input": [*CODEX["input"],
                                    {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "x"},
                                    {"type": "custom_tool_call", "call_id": "call_1", "name": "exec",
                                     "namespace": "functions", "input": "ls -la"},
                                    {"type": "function_call", "call_id": "call_2", "name": "spawn_agent",
                                     "namespace": "multi_agent_v1", "arguments": '{"task":"review"}'},
                                    {"type": "custom_tool_call_output", "call_id": "call_1", "output": "README.md"},
                                    {"type": "function_call_output", "call_id": "call_2", "output": "done"}]}
    chat, _ = responses_to_chat(follow_up, "g")
    assert chat["messages"][2:] == [
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "functions__exec",
                                                              "arguments": '{"input": "ls -la"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "multi_agent_v1__spawn_agent",
                                                              "arguments": '{"task":"review"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "README.md"},
        {"role": "tool", "tool_call_id": "call_2", "content": "done"}]
    anthropic, _ = responses_to_anthropic(follow_up, "claude-sonnet-5", 8192)
    assert [(block["name"], block["input"]) for block in anthropic["messages"][1]["content"]] == [
        ("functions__exec", {"input": "ls -la"}), ("multi_agent_v1__spawn_agent", {"task": "review"})]
    assert [block["type"] for block in anthropic["messages"][2]["content"]] == ["tool_result", "tool_result"]


def test_items_without_content_are_skipped_and_unknown_ones_with_content_refused() -> None:
    body, _ = responses_to_chat({"input": [{"type": "compaction_trigger"}, {"role": "user", "content": "hi"}]}, "g")
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    with pytest.raises(TranslationError) as raised:
        responses_to_chat({"input": [{"role": "user", "content": "hi"}, {"type": "shell_call_output"}]}, "g")
    assert raised.value.param == "input[1].type"
