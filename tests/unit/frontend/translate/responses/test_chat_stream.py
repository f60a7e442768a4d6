"""The Responses API through Chat Completions and Anthropic backends: requests, answers, errors and streams,
checked against the openai SDK's own types and its stream accumulator."""

from __future__ import annotations

import json
import re

import httpx2
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from frontend.translate import TranslationError
from frontend.translate.responses.answer import anthropic_to_response, chat_to_response
from frontend.translate.responses.anthropic_stream import AnthropicToResponsesStream
from frontend.translate.responses.chat_stream import ChatToResponsesStream
from frontend.translate.responses.request_to_anthropic import responses_to_anthropic
from frontend.translate.responses.request_to_chat import responses_to_chat
from frontend.translate.sse import SseParser
from frontend.translate.upstream_errors import error_to_responses
from tests.support import anthropic_wire, openai_wire
from tests.support.splitting import split_at

TEXT = "héllo wörld ☃ 🚀 " * 3
TOOLS = [("get_weather", {"city": "Paris", "note": "ünïcode ☃"}), ("get_time", {}), ("noop", {"deep": {"a": [1, 2]}})]
FUNCTION_TOOLS = [{"type": "function", "name": name, "description": f"{name} tool", "strict": False,
                   "parameters": {"type": "object", "properties": {}}} for name, _ in TOOLS]
REQUEST = {"model": "alias", "instructions": "Be brief.", "input": "What is the weather?", "tools": FUNCTION_TOOLS,
           "stream": True}
EVENTS = TypeAdapter(ResponseStreamEvent)


def run(machine, pieces: list[bytes]) -> bytes:
    return b"".join(machine.feed(piece) for piece in pieces) + machine.finish()


def client_for(body: bytes, content_type: str) -> openai.OpenAI:
    """The official SDK, answered by `body` through a mock transport."""
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, headers={"content-type": content_type},
                                                                      content=body))
    return openai.OpenAI(api_key="k", base_url="http://dario.test/v1", http_client=httpx2.Client(transport=transport),
                         max_retries=0)


def checked_events(output: bytes) -> list:
    """Every event parses as the SDK's ResponseStreamEvent, names match types, and sequence numbers run 0..n-1."""
    events = SseParser().feed(output)
    parsed = [EVENTS.validate_json(event.data) for event in events]
    assert [event.name for event in events] == [event.type for event in parsed]
    assert [event.sequence_number for event in parsed] == list(range(len(parsed)))
    assert [event.type for event in parsed[:2]] == ["response.created", "response.in_progress"]
    return parsed


def check_grammar(events: list) -> None:
    """Items one at a time, indexes 0..n-1; parts and arguments opened, filled and closed in the API's order."""
    open_item, open_part, next_index, text, arguments = None, None, 0, "", ""
    for event in events[2:-1]:
        kind = event.type
        if kind == "response.output_item.added":
            assert open_item is None and event.output_index == next_index
            open_item, arguments = event.item, ""
        elif kind == "response.output_item.done":
            assert open_part is None and event.output_index == next_index and event.item.id == open_item.id
            if event.item.type == "function_call":
                assert event.item.arguments == arguments and json.loads(arguments) is not None
            if event.item.type == "custom_tool_call":
                assert event.item.input == arguments
            open_item, next_index = None, next_index + 1
        elif kind == "response.content_part.added":
            assert open_item is not None and open_part is None and event.item_id == open_item.id
            open_part, text = event.content_index, ""
        elif kind == "response.content_part.done":
            assert event.content_index == open_part and (getattr(event.part, "text", None) or "") in ("", text)
            open_part = None
        elif kind.endswith(".delta"):
            assert event.item_id == open_item.id and event.output_index == next_index
            if kind in ("response.function_call_arguments.delta", "response.custom_tool_call_input.delta"):
                arguments += event.delta
            else:
                assert event.content_index == open_part
                text += event.delta
        elif kind == "response.function_call_arguments.done":
            assert event.arguments == arguments
        elif kind == "response.custom_tool_call_input.done":
            assert event.input == arguments and open_item.type == "custom_tool_call"
        elif kind in ("response.output_text.done", "response.reasoning_text.done"):
            assert event.text == text
        elif kind != "error":
            raise AssertionError(f"unexpected event {kind}")
    assert open_item is None or events[-1].type == "response.failed"


def comparable(response: Response | dict) -> dict:
    """A response without its ids and timestamps, for comparing a streamed answer with a whole one."""
    document = response if isinstance(response, dict) else response.model_dump(mode="json", exclude_none=True)
    document = json.loads(json.dumps(document))
    for item in document["output"]:
        item.pop("id", None)
        if item["type"] == "function_call":  # the same JSON, maybe serialized differently
            item.pop("call_id")
            item["arguments"] = json.loads(item["arguments"])
    return {key: document.get(key) for key in ("status", "output", "usage", "incomplete_details", "model", "tools")}


def sdk_stream(output: bytes, request: dict) -> tuple[list, Response]:
    with client_for(output, "text/event-stream").responses.stream(**{k: v for k, v in request.items()
                                                                      if k != "stream"}) as stream:
        events = list(stream)
        return events, stream.get_final_response()


# ---------------------------------------------------------------- requests


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


def test_limits_sampling_and_identity_fields() -> None:
    body, warnings = responses_to_chat({"input": "x", "max_output_tokens": 99, "temperature": 0.3, "top_p": 0.9,
                                        "user": "u", "safety_identifier": "s", "metadata": {"a": "b"},
                                        "prompt_cache_key": "k", "store": False, "service_tier": "auto",
                                        "include": ["reasoning.encrypted_content"], "max_tool_calls": 3}, "gpt-4o")
    assert {key: body[key] for key in ("max_completion_tokens", "temperature", "top_p", "user", "safety_identifier")} \
        == {"max_completion_tokens": 99, "temperature": 0.3, "top_p": 0.9, "user": "u", "safety_identifier": "s"}
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
    with pytest.raises(TranslationError) as raised:
        responses_to_anthropic({"input": "x", "text": {"format": {"type": "json_object"}}}, "claude-sonnet-5", 1024)
    assert raised.value.param == "text.format"
    with pytest.raises(TranslationError) as raised:
        responses_to_anthropic({"input": [{"role": "user", "content": "a"}, {"role": "user", "content": [
            {"type": "input_image", "image_url": "data:image/tiff;base64,AA"}]}]}, "claude-sonnet-5", 1024)
    assert raised.value.param == "input[1]"


# ---------------------------------------------------------------- whole answers


def test_a_completion_becomes_a_response_the_sdk_reads() -> None:
    completion = openai_wire.completion("gpt-4o", "It is sunny.", openai_wire.usage(40, 9, cached=8, reasoning=3),
                                        tools=TOOLS[:2])
    document = {**REQUEST, "temperature": 0.2, "max_output_tokens": 300}
    result = chat_to_response(completion, "alias", document)
    response = Response.model_validate(result)
    assert response.output_text == "It is sunny." and response.status == "completed"
    calls = [item for item in response.output if item.type == "function_call"]
    assert [(call.name, json.loads(call.arguments), call.call_id) for call in calls] == [
        (name, arguments, tool["id"]) for (name, arguments), tool in
        zip(TOOLS[:2], completion["choices"][0]["message"]["tool_calls"])]
    assert result["id"].startswith("resp_") and all(call.id.startswith("fc_") for call in calls)
    usage = response.usage
    assert (usage.input_tokens, usage.input_tokens_details.cached_tokens, usage.output_tokens,
            usage.output_tokens_details.reasoning_tokens, usage.total_tokens) == (40, 8, 9, 3, 49)
    assert (response.model, response.instructions, response.temperature, response.max_output_tokens) == (
        "alias", "Be brief.", 0.2, 300)
    assert [tool.name for tool in response.tools] == [name for name, _ in TOOLS]
    sdk = client_for(json.dumps(result).encode(), "application/json").responses.create(model="alias", input="x")
    assert sdk.output_text == "It is sunny."


def test_a_cut_off_completion_is_incomplete() -> None:
    completion = openai_wire.completion("gpt-4o", "It is", openai_wire.usage(5, 2))
    completion["choices"][0]["finish_reason"] = "length"
    response = Response.model_validate(chat_to_response(completion, "alias", {"input": "x"}))
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"
    assert response.output[-1].status == "incomplete"


def test_reasoning_and_refusal_are_kept() -> None:
    completion = openai_wire.completion("deepseek-reasoner", "", None)
    completion["choices"][0]["message"].update(reasoning_content="thinking…", refusal="I can't help with that.")
    response = Response.model_validate(chat_to_response(completion, "alias", {"input": "x"}))
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert response.output[0].content[0].text == "thinking…"
    assert response.output[1].content[0].refusal == "I can't help with that." and response.usage is None


def test_an_anthropic_message_becomes_a_response() -> None:
    message = anthropic_wire.message("claude-sonnet-5", "Sunny.", anthropic_wire.usage(30, 7, cache_read=10),
                                     tools=TOOLS[:1])
    response = Response.model_validate(anthropic_to_response(message, "alias", REQUEST))
    assert response.output_text == "Sunny."
    assert (response.output[1].name, json.loads(response.output[1].arguments)) == TOOLS[0]
    assert (response.usage.input_tokens, response.usage.input_tokens_details.cached_tokens) == (40, 10)


@pytest.mark.parametrize(("status", "body", "expected"), [
    (429, json.dumps(openai_wire.error_body(429)).encode(), ("requests", "rate_limit_exceeded")),
    (400, json.dumps(openai_wire.error_body(400)).encode(), ("invalid_request_error", "invalid_value")),
    (529, json.dumps(anthropic_wire.error_body(529)).encode(), ("overloaded_error", None)),
    (429, json.dumps(anthropic_wire.error_body(429)).encode(), ("rate_limit_error", "rate_limit_exceeded")),
    (502, b"<html>bad gateway</html>", ("server_error", None)),
])
def test_upstream_errors_reach_clients_in_the_openai_shape(status: int, body: bytes, expected: tuple) -> None:
    error = error_to_responses(status, body)["error"]
    assert (error["type"], error["code"]) == expected and error["message"]
    assert set(error) == {"message", "type", "param", "code"}


# ---------------------------------------------------------------- streams


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=100_000), max_size=60), st.integers(min_value=0, max_value=3))
def test_chat_stream_under_any_split_equals_the_whole_answer(cuts: list[int], tool_count: int) -> None:
    tools = TOOLS[:tool_count]
    usage = openai_wire.usage(40, 9, cached=8)
    upstream = openai_wire.stream_events("gpt-4o", TEXT, usage, include_usage=True, tools=tools)
    output = run(ChatToResponsesStream("alias", REQUEST), split_at(upstream, cuts))
    events = checked_events(output)
    check_grammar(events)
    assert events[-1].type == "response.completed"
    _, final = sdk_stream(output, REQUEST)
    assert final.output_text == TEXT
    assert [(item.name, json.loads(item.arguments)) for item in final.output if item.type == "function_call"] == tools
    whole = chat_to_response(openai_wire.completion("gpt-4o", TEXT, usage, tools=tools), "alias", REQUEST)
    assert comparable(final) == comparable(Response.model_validate(whole))


def test_chat_stream_in_one_byte_chunks() -> None:
    upstream = openai_wire.stream_events("gpt-4o", TEXT, openai_wire.usage(3, 4), include_usage=True, tools=TOOLS)
    output = run(ChatToResponsesStream("alias", REQUEST), [upstream[i : i + 1] for i in range(len(upstream))])
    events = checked_events(output)
    whole = checked_events(run(ChatToResponsesStream("alias", REQUEST), [upstream]))
    assert [event.type for event in events] == [event.type for event in whole]
    check_grammar(events)
    done = [event.item for event in events if event.type == "response.output_item.done"]
    assert [item.type for item in done] == ["message", "function_call", "function_call", "function_call"]
    assert [(item.name, json.loads(item.arguments)) for item in done[1:]] == TOOLS


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=100_000), max_size=60), st.integers(min_value=0, max_value=3))
def test_anthropic_stream_under_any_split_equals_the_whole_answer(cuts: list[int], tool_count: int) -> None:
    tools = TOOLS[:tool_count]
    usage = anthropic_wire.usage(12, 34, cache_read=5)
    upstream = anthropic_wire.stream_events("claude-sonnet-5", TEXT, usage, tools=tools)
    output = run(AnthropicToResponsesStream("alias", REQUEST), split_at(upstream, cuts))
    events = checked_events(output)
    check_grammar(events)
    _, final = sdk_stream(output, REQUEST)
    assert final.output_text == TEXT and final.usage.input_tokens == 17
    whole = anthropic_to_response(anthropic_wire.message("claude-sonnet-5", TEXT, usage, tools=tools), "alias",
                                  REQUEST)
    assert comparable(final) == comparable(Response.model_validate(whole))


def test_thinking_from_an_anthropic_stream_becomes_a_reasoning_item() -> None:
    events = [anthropic_wire.event("message_start", {"type": "message_start", "message": dict(
        anthropic_wire.message("m", "", None), content=[], stop_reason=None)})]
    for index, (block, delta) in enumerate([({"type": "thinking", "thinking": "", "signature": ""},
                                             {"type": "thinking_delta", "thinking": "hmm"}),
                                            ({"type": "text", "text": ""}, {"type": "text_delta", "text": "Hi"})]):
        events += [anthropic_wire.event("content_block_start", {"type": "content_block_start", "index": index,
                                                                "content_block": block}),
                   anthropic_wire.event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                                "delta": delta}),
                   anthropic_wire.event("content_block_stop", {"type": "content_block_stop", "index": index})]
    events += [anthropic_wire.event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                                      "usage": {"output_tokens": 3}}),
               anthropic_wire.event("message_stop", {"type": "message_stop"})]
    output = run(AnthropicToResponsesStream("alias", {"input": "x"}), [b"".join(events)])
    parsed = checked_events(output)
    check_grammar(parsed)
    final = parsed[-1].response
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.output[0].content[0].text == "hmm" and final.output_text == "Hi"


def test_upstream_error_mid_stream_becomes_error_then_response_failed() -> None:
    upstream = openai_wire.stream_events("g", TEXT, None, include_usage=False)
    cut = upstream.index(b"data: ", len(upstream) // 2)
    broken = upstream[:cut] + b'data: {"error": {"message": "Rate limit reached", "type": "requests", ' \
                              b'"code": "rate_limit_exceeded"}}\n\n' + upstream[cut:]
    events = checked_events(run(ChatToResponsesStream("alias", {"input": "x"}), [broken]))
    check_grammar(events)
    assert [event.type for event in events[-2:]] == ["error", "response.failed"]
    assert events[-2].code == "rate_limit_exceeded" and events[-2].message == "Rate limit reached"
    failed = events[-1].response
    assert failed.status == "failed" and failed.error.code == "rate_limit_exceeded"
    assert failed.output[0].status == "incomplete" and TEXT.startswith(failed.output[0].content[0].text)


def test_anthropic_overload_mid_stream_fails_the_response() -> None:
    upstream = anthropic_wire.stream_events("m", TEXT, None)
    cut = upstream.index(b"event: content_block_stop")
    broken = upstream[:cut] + anthropic_wire.event("error", {"type": "error", "error": {
        "type": "overloaded_error", "message": "Overloaded"}})
    events = checked_events(run(AnthropicToResponsesStream("alias", {"input": "x"}), [broken]))
    assert [event.type for event in events[-2:]] == ["error", "response.failed"]
    assert events[-1].response.error.code == "server_error" and events[-1].response.error.message == "Overloaded"


def test_a_stream_cut_short_fails_and_one_missing_only_done_completes() -> None:
    upstream = openai_wire.stream_events("g", TEXT, None, include_usage=False, tools=TOOLS[:1])
    events = checked_events(run(ChatToResponsesStream("alias", {"input": "x"}), [upstream[: len(upstream) // 3]]))
    assert events[-1].type == "response.failed" and "prematurely" in events[-1].response.error.message
    events = checked_events(run(ChatToResponsesStream("alias", {"input": "x"}),
                                [upstream.replace(b"data: [DONE]\n\n", b"")]))
    assert events[-1].type == "response.completed" and events[-1].response.usage is None


def test_a_cut_off_stream_ends_with_response_incomplete() -> None:
    upstream = openai_wire.stream_events("g", TEXT, openai_wire.usage(3, 4), include_usage=True).replace(
        b'"finish_reason": "stop"', b'"finish_reason": "length"')
    events = checked_events(run(ChatToResponsesStream("alias", {"input": "x", "max_output_tokens": 4}), [upstream]))
    final = events[-1]
    assert final.type == "response.incomplete" and final.response.incomplete_details.reason == "max_output_tokens"
    assert final.response.output[-1].status == "incomplete" and final.response.max_output_tokens == 4


def test_parallel_calls_reusing_index_zero_and_interleaving_stay_apart() -> None:
    def chunk(delta: dict, finish: str | None = None) -> bytes:
        return openai_wire.sse({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "g",
                                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    upstream = b"".join([
        chunk({"role": "assistant"}),
        chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "one", "arguments": '{"x":'}}]}),
        chunk({"tool_calls": [{"index": 0, "id": "b", "function": {"name": "two", "arguments": '{"y":2}'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
        chunk({"content": "\n"}),
        chunk({}, "tool_calls"),
        b"data: [DONE]\n\n",
    ])
    events = checked_events(run(ChatToResponsesStream("alias", {"input": "x"}), [upstream]))
    check_grammar(events)
    output = events[-1].response.output
    assert [(item.type, getattr(item, "call_id", None)) for item in output] == [
        ("function_call", "a"), ("function_call", "b"), ("message", None)]
    assert [json.loads(item.arguments) for item in output[:2]] == [{"x": 1}, {"y": 2}]


def test_a_tool_named_only_later_is_not_lost() -> None:
    def chunk(delta: dict, finish: str | None = None) -> bytes:
        return openai_wire.sse({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "g",
                                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    upstream = b"".join([
        chunk({"content": "ok"}),
        chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "", "arguments": '{"q"'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"name": "search", "arguments": ':"x"}'}}]}),
        chunk({}, "tool_calls"),
    ])
    events = checked_events(run(ChatToResponsesStream("alias", {"input": "x"}), [upstream]))
    check_grammar(events)
    call = events[-1].response.output[1]
    assert (call.name, json.loads(call.arguments)) == ("search", {"q": "x"})


def test_an_error_before_any_content_still_opens_with_response_created() -> None:
    output = run(ChatToResponsesStream("alias", {"input": "x"}),
                 [b'data: {"error": {"message": "boom", "type": "server_error"}}\n\n'])
    events = checked_events(output)
    assert [event.type for event in events] == ["response.created", "response.in_progress", "error",
                                                "response.failed"]


def test_two_streams_share_nothing() -> None:
    first, second = ChatToResponsesStream("a", {"input": "x"}), ChatToResponsesStream("b", {"input": "y"})
    upstream = openai_wire.stream_events("g", "hi", None, include_usage=False)
    first.feed(upstream[:50])
    out = run(second, [upstream])
    assert checked_events(out)[0].sequence_number == 0 and first.id != second.id and not first.finished


def test_empty_tool_fragments_announce_no_call() -> None:
    upstream = openai_wire.stream_events("g", "hi", None, include_usage=False).replace(
        b'"delta": {"content": "hi"}', b'"delta": {"content": "hi", "tool_calls": [{"index": 0, "function": {}}]}')
    events = checked_events(run(ChatToResponsesStream("alias", {"input": "x"}), [upstream]))
    assert [item.type for item in events[-1].response.output] == ["message"]


def test_nothing_follows_a_failure() -> None:
    machine = ChatToResponsesStream("alias", {"input": "x"})
    assert b"response.failed" in machine.feed(b'data: {"error": {"message": "boom"}}\n\n')
    assert machine.feed(openai_wire.stream_events("g", "hi", None, include_usage=False)) == b""
    assert machine.finish() == b"" and machine.finished


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


# ---------------------------------------------------------------- hostile input: a 400 naming a field, never a crash

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TEXTS = st.text(max_size=8) | st.sampled_from(["", " ", "\ud800", "héllo ☃ 🚀", "[DONE]", "{", "data: x\n\n"])
SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | TEXTS
JSON = st.recursive(SCALARS, lambda children: st.lists(children, max_size=3)
                    | st.dictionaries(TEXTS, children, max_size=3), max_leaves=10)


def one_of(*values: object) -> st.SearchStrategy:
    """A documented value most of the time, sometimes any JSON."""
    return st.sampled_from(values) | st.sampled_from(values) | JSON


def fields(**optional: st.SearchStrategy) -> st.SearchStrategy:
    return st.fixed_dictionaries({}, optional=optional)


PART = fields(type=one_of("input_text", "output_text", "input_image", "input_file", "refusal", "input_audio"),
              text=TEXTS, image_url=one_of("https://x.test/a.png", "data:image/png;base64,AA"),
              file_id=one_of(None, "file_1"), file_data=one_of("data:application/pdf;base64,AA"))
ITEM = fields(type=one_of("message", "function_call", "function_call_output", "reasoning", "item_reference"),
              role=one_of("user", "assistant", "system", "developer", "tool"),
              content=TEXTS | st.lists(PART, max_size=3), call_id=one_of("call_1", ""), name=one_of("get_time"),
              arguments=one_of("{}", '{"a":1}', ""), output=TEXTS | st.lists(PART, max_size=2))
RESPONSES_DOCUMENT = fields(
    input=TEXTS | st.lists(ITEM, max_size=5), instructions=TEXTS | JSON,
    tools=st.lists(fields(type=one_of("function", "web_search", "custom"), name=one_of("get_time"),
                          parameters=one_of({"type": "object"}), strict=JSON, description=TEXTS), max_size=2),
    tool_choice=one_of("auto", "none", "required", {"type": "function", "name": "get_time"},
                       {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "get_time"}]}),
    parallel_tool_calls=JSON, max_output_tokens=one_of(1, 4096, 0, -1, 2.5, 10**400),
    temperature=one_of(0.5, 2, 10**400, float("nan")),
    top_p=one_of(1), text=fields(format=fields(type=one_of("text", "json_object", "json_schema"), name=TEXTS,
                                               schema=one_of({"type": "object"})), verbosity=one_of("low")),
    reasoning=fields(effort=one_of("low", "high", "none"), summary=one_of("auto")), store=one_of(False, None, True),
    include=one_of([], ["reasoning.encrypted_content"]), stream=JSON, user=TEXTS, metadata=JSON,
    previous_response_id=one_of(None), truncation=one_of("auto", "disabled"))


@FUZZ
@given(RESPONSES_DOCUMENT, st.sampled_from(["gpt-4o", "gpt-5.1", "llama-3.1"]),
       st.sampled_from(["claude-sonnet-5", "claude-3-5-sonnet-20241022"]))
def test_hostile_responses_requests_translate_or_are_refused_naming_a_field(document: dict, openai_model: str,
                                                                             anthropic_model: str) -> None:
    for translate in (lambda: responses_to_chat(document, openai_model),
                      lambda: responses_to_anthropic(document, anthropic_model, 4096)):
        try:
            body, warnings = translate()
        except TranslationError as error:
            assert error.param and isinstance(error.param, str)
            continue
        json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
        assert all(isinstance(warning, str) for warning in warnings)
        # a request that translated echoes into a Response the SDK accepts
        Response.model_validate(chat_to_response({"choices": [{"message": {"content": "ok"}}]}, "alias", document))


TOOL_CALL = fields(index=one_of(0, 1), id=one_of("call_1", "call_2"),
                   function=fields(name=one_of("get_time", ""), arguments=TEXTS | JSON))
DELTA = fields(content=TEXTS | JSON, refusal=TEXTS, reasoning_content=TEXTS,
               tool_calls=JSON | st.lists(TOOL_CALL, max_size=2))
CHOICE = fields(delta=JSON | DELTA, finish_reason=one_of(None, "stop", "length", "tool_calls", "content_filter"))
CHUNK = fields(id=TEXTS, object=one_of("chat.completion.chunk"), usage=JSON | st.just(openai_wire.usage(3, 4)),
               error=one_of(None, {"message": "x", "type": "server_error"}),
               choices=JSON | st.lists(CHOICE, max_size=2))


@FUZZ
@given(JSON | fields(choices=st.lists(fields(message=JSON, finish_reason=JSON), max_size=2), usage=JSON))
def test_any_chat_answer_becomes_a_response_the_sdk_accepts(completion: object) -> None:
    if isinstance(completion, dict):
        Response.model_validate(chat_to_response(completion, "alias", REQUEST))


@FUZZ
@given(st.lists(CHUNK | JSON, max_size=6), st.booleans(), st.lists(st.integers(0, 10_000), max_size=8))
def test_any_chat_stream_becomes_events_the_sdk_accepts(chunks: list, done: bool, cuts: list[int]) -> None:
    upstream = b"".join(b"data: " + json.dumps(chunk).encode("utf-8", "surrogatepass") + b"\n\n" for chunk in chunks)
    output = run(ChatToResponsesStream("alias", REQUEST), split_at(upstream + b"data: [DONE]\n\n" * done, cuts))
    events = checked_events(output)
    assert events[-1].type in ("response.completed", "response.incomplete", "response.failed")
    assert sum(event.type.startswith("response.") and event.type.count(".") == 1 for event in events) == 3


@FUZZ
@given(st.binary(max_size=300) | st.lists(CHUNK | JSON | fields(type=one_of(
    "message_start", "content_block_start", "content_block_delta", "message_delta", "message_stop", "error"),
    index=one_of(0, 1), delta=JSON, content_block=JSON, message=JSON, error=JSON), max_size=5).map(
    lambda events: b"".join(b"event: e\ndata: " + json.dumps(event).encode("utf-8", "surrogatepass") + b"\n\n"
                            for event in events)))
def test_any_bytes_from_either_upstream_end_in_one_terminal_event(upstream: bytes) -> None:
    for machine in (ChatToResponsesStream("alias", REQUEST), AnthropicToResponsesStream("alias", REQUEST)):
        events = checked_events(run(machine, [upstream]))
        terminal = [event.type for event in events if event.type in (
            "response.completed", "response.incomplete", "response.failed")]
        assert terminal == [events[-1].type] and machine.finished


# ---------------------------------------------------------------- Codex's tools: additional_tools, namespace, custom

EXEC_GRAMMAR = 'start: command\ncommand: /[^\\n]+/'
CODEX_TOOLS = {"type": "additional_tools", "role": "developer", "tools": [
    {"type": "namespace", "name": "functions", "description": "Codex tools", "tools": [
        {"type": "custom", "name": "exec", "description": "Runs a shell command.",
         "format": {"type": "grammar", "syntax": "lark", "definition": EXEC_GRAMMAR}},
        {"type": "function", "name": "update_plan", "description": "Updates the plan.",
         "parameters": {"type": "object", "properties": {"plan": {"type": "string"}}}}]},
    {"type": "namespace", "name": "clock", "description": "", "tools": [
        {"type": "function", "name": "now", "parameters": {"type": "object", "properties": {}}}]}]}
CODEX = {"model": "alias", "instructions": "You are Codex.", "stream": True, "store": False, "tool_choice": "auto",
         "parallel_tool_calls": True,
         "tools": [FUNCTION_TOOLS[0], {"type": "namespace", "name": "multi_agent_v1", "description": "Agents.",
                                       "tools": [{"type": "function", "name": "spawn_agent", "parameters": {
                                           "type": "object", "properties": {"task": {"type": "string"}}}}]},
                   {"type": "web_search", "external_web_access": False}],
         "input": [CODEX_TOOLS, {"type": "message", "role": "user",
                                 "content": [{"type": "input_text", "text": "list files"}]}]}
CODEX_NAMES = ["get_weather", "multi_agent_v1__spawn_agent", "functions__exec", "functions__update_plan", "clock__now"]
CODEX_CALLS = [("functions__exec", {"input": "ls -la ☃"}), ("multi_agent_v1__spawn_agent", {"task": "review"})]


def check_codex_calls(output: list) -> None:
    """The calls reach Codex as it declared the tools: a custom_tool_call and a namespaced function_call."""
    custom, function = [item for item in output if item.type in ("custom_tool_call", "function_call")]
    assert (custom.type, custom.namespace, custom.name, custom.input) == (
        "custom_tool_call", "functions", "exec", "ls -la ☃")
    assert (function.type, function.namespace, function.name, json.loads(function.arguments)) == (
        "function_call", "multi_agent_v1", "spawn_agent", {"task": "review"})


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


@pytest.mark.parametrize("backend", ["chat", "anthropic"])
def test_codex_calls_map_back_whole(backend: str) -> None:
    if backend == "chat":
        result = chat_to_response(openai_wire.completion("g", "On it.", openai_wire.usage(5, 6), tools=CODEX_CALLS),
                                  "alias", CODEX)
    else:
        result = anthropic_to_response(anthropic_wire.message("m", "On it.", anthropic_wire.usage(5, 6),
                                                              tools=CODEX_CALLS), "alias", CODEX)
    response = Response.model_validate(result)
    check_codex_calls(response.output)
    assert response.output_text == "On it."
    assert [tool.type for tool in response.tools] == ["function", "namespace"]


@pytest.mark.parametrize("backend", ["chat", "anthropic"])
@pytest.mark.parametrize("one_byte", [False, True])
def test_codex_calls_map_back_streamed(backend: str, one_byte: bool) -> None:
    if backend == "chat":
        upstream = openai_wire.stream_events("g", "On it.", openai_wire.usage(5, 6), include_usage=True,
                                             tools=CODEX_CALLS)
        machine = ChatToResponsesStream("alias", CODEX)
    else:
        upstream = anthropic_wire.stream_events("m", "On it.", anthropic_wire.usage(5, 6), tools=CODEX_CALLS)
        machine = AnthropicToResponsesStream("alias", CODEX)
    pieces = [upstream[i : i + 1] for i in range(len(upstream))] if one_byte else [upstream]
    output = run(machine, pieces)
    events = checked_events(output)
    check_grammar(events)
    kinds = [event.type for event in events]
    assert "response.custom_tool_call_input.delta" in kinds and "response.custom_tool_call_input.done" in kinds
    assert kinds[-1] == "response.completed"
    check_codex_calls(events[-1].response.output)
    check_codex_calls([event.item for event in events if event.type == "response.output_item.done"])
    _, final = sdk_stream(output, CODEX)
    check_codex_calls(final.output)


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
        {"role": "assistant", "content": None, "tool_calls": [
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
