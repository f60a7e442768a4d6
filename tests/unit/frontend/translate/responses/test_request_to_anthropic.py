"""Responses requests → Anthropic Messages requests, through Chat: refusals and warnings name the Responses field."""

from __future__ import annotations

import pytest

from frontend.translate import TranslationError
from frontend.translate.responses.request_to_anthropic import responses_to_anthropic
from tests.unit.frontend.translate.responses.checks import REQUEST


def test_anthropic_backends_get_the_chained_translation() -> None:
    body, warnings = responses_to_anthropic({**REQUEST, "max_output_tokens": 500, "input": [
        {"role": "user", "content": "weather?"},
        {"type": "function_call", "call_id": "call:1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        {"type": "function_call_output", "call_id": "call:1", "output": "sunny"}],
        "tool_choice": "required", "parallel_tool_calls": False, "text": {"verbosity": "low"}},
        "claude-sonnet-5", 4096)
    assert body["system"] == [{"type": "text", "text": "Be brief."}] and body["max_tokens"] == 500
    assert body["messages"][1]["content"] == [{"type": "tool_use", "id": "call_1", "name": "get_weather",
                                               "input": {"city": "Paris"}}]
    assert body["messages"][2]["content"][0] == {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"}
    assert body["tools"][0] == {"name": "get_weather", "input_schema": {"type": "object", "properties": {}},
                                "description": "get_weather tool", "strict": False}
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True} and body["stream"] is True
    assert warnings == ["text.verbosity"]


def test_anthropic_refusals_name_the_responses_field() -> None:
    recursive = {"type": "object", "properties": {"next": {"$ref": "#"}}}
    with pytest.raises(TranslationError) as raised:
        responses_to_anthropic({"input": "x", "text": {"format": {"type": "json_schema", "name": "list",
                                                                  "schema": recursive}}}, "claude-sonnet-5", 1024)
    assert raised.value.param == "text.format.schema"
    body, _ = responses_to_anthropic({"input": "x", "text": {"format": {"type": "json_object"}}}, "claude-sonnet-5",
                                     1024)
    assert "JSON object" in body["system"][-1]["text"]  # emulated (translation.md §2)
    with pytest.raises(TranslationError) as raised:
        responses_to_anthropic({"input": [{"role": "user", "content": "a"}, {"role": "user", "content": [
            {"type": "input_image", "image_url": "data:image/tiff;base64,AA"}]}]}, "claude-sonnet-5", 1024)
    assert raised.value.param == "input[1]"
