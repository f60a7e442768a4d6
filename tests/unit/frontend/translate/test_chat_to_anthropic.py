"""Chat Completions requests → Anthropic Messages requests, table-driven on shapes from the SDKs' types
(translation.md §2)."""

from __future__ import annotations

import pytest

from frontend.translate import TranslationError
from frontend.translate.chat_to_anthropic import to_anthropic_request

USER = {"role": "user", "content": "hi"}


def to_anthropic(**fields: object) -> tuple[dict, list[str]]:
    document = {"model": "claude-haiku-4-5", "messages": [USER], **fields}
    return to_anthropic_request(document, document["model"], 4096)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, {"max_tokens": 4096}),
        ({"max_tokens": 50}, {"max_tokens": 50}),
        ({"max_completion_tokens": 60, "max_tokens": 50}, {"max_tokens": 60}),
        ({"stop": "END"}, {"stop_sequences": ["END"]}),
        ({"stop": ["a", "b"]}, {"stop_sequences": ["a", "b"]}),
        ({"temperature": 1.7}, {"temperature": 1}),
        ({"top_p": 0.9}, {"top_p": 0.9}),
        ({"user": "u-1"}, {"metadata": {"user_id": "u-1"}}),
        ({"stream": True}, {"stream": True}),
        ({"reasoning_effort": "medium", "max_tokens": 8000},
         {"thinking": {"type": "enabled", "budget_tokens": 2048}}),
    ],
)
def test_openai_fields_map_onto_anthropic(fields: dict, expected: dict) -> None:
    body, _ = to_anthropic(**fields)
    for key, value in expected.items():
        assert body[key] == value


def test_adaptive_models_get_adaptive_thinking_and_lose_sampling_with_a_warning() -> None:
    document = {"model": "claude-opus-5", "messages": [USER], "reasoning_effort": "high", "temperature": 0.2}
    body, warnings = to_anthropic_request(document, "claude-opus-5", 4096)
    assert body["thinking"] == {"type": "adaptive"} and body["output_config"] == {"effort": "high"}
    assert "temperature" not in body and warnings == ["temperature"]


def test_system_and_developer_messages_anywhere_become_system_blocks() -> None:
    body, _ = to_anthropic(messages=[{"role": "system", "content": "A"}, USER,
                                     {"role": "developer", "content": [{"type": "text", "text": "B"}]},
                                     {"role": "assistant", "content": "ok  "}])
    assert body["system"] == [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}]
    assert body["messages"][-1] == {"role": "assistant", "content": [{"type": "text", "text": "ok"}]}


def test_images_and_empty_parts() -> None:
    content = [{"type": "text", "text": "  "}, {"type": "text", "text": "look"},
               {"type": "image_url", "image_url": {"url": "data:image/jpg;base64,AAAA"}},
               {"type": "image_url", "image_url": {"url": "https://example.invalid/cat.png", "detail": "high"}}]
    body, _ = to_anthropic(messages=[{"role": "user", "content": content}])
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "AAAA"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.invalid/cat.png"}},
    ]


def test_first_turn_must_be_user() -> None:
    body, _ = to_anthropic(messages=[{"role": "assistant", "content": "Hello! How can I help?"}, USER])
    assert [turn["role"] for turn in body["messages"]] == ["user", "assistant", "user"]


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        ({"type": "function", "function": {"name": "f"}}, None, {"type": "tool", "name": "f"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
    ],
)
def test_tool_choice_and_parallel_calls(choice: object, parallel: object, expected: dict) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    fields: dict[str, object] = {"tools": tools}
    if choice is not None:
        fields["tool_choice"] = choice
    if parallel is not None:
        fields["parallel_tool_calls"] = parallel
    body, _ = to_anthropic(**fields)
    assert body["tool_choice"] == expected
    assert body["tools"] == [{"name": "f", "input_schema": {"type": "object"}}]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"audio": {"voice": "alloy"}}, "audio"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
         "messages[0].content[0]"),
        ({"messages": [USER, {"role": "assistant", "tool_calls": [{"id": "c", "function": {
            "name": "f", "arguments": "{broken"}}]}]}, "messages[1].tool_calls[0].function.arguments"),
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0]"),
    ],
)
def test_fields_anthropic_cannot_honour_are_refused_by_name(fields: dict, param: str) -> None:
    with pytest.raises(TranslationError) as caught:
        to_anthropic(**fields)
    assert caught.value.param == param


def test_structured_output_maps_and_json_object_is_emulated() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}
    body, _ = to_anthropic(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}})
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    body, _ = to_anthropic(response_format={"type": "json_object"})
    assert "JSON object" in body["system"][-1]["text"] and "output_config" not in body
    with pytest.raises(TranslationError) as caught:
        to_anthropic(response_format={"type": "regex"})
    assert caught.value.param == "response_format"
    body, _ = to_anthropic(response_format={"type": "text"})
    assert "output_config" not in body


def test_dropped_fields_are_reported_as_warnings() -> None:
    _, warnings = to_anthropic(seed=7, presence_penalty=0.5, frequency_penalty=0)
    assert warnings == ["seed", "presence_penalty"]
