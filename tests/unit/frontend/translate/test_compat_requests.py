"""Requests follow the backend's compatibility profile and the model's capabilities (issue 16): the output limit's
field, `content` of tool-call turns, usage in streams, stop sequences, prefill, reasoning replay, the billing header."""

from __future__ import annotations

import pytest

from dario.compat import Capabilities, Compat, Profile, default_profile
from frontend.dialects import ANTHROPIC_MESSAGES
from frontend.request_parsing import ParsedRequest
from frontend.translate import TranslationError
from frontend.translate.anthropic_to_chat import to_chat_request
from frontend.translate.chat_to_anthropic import to_anthropic_request
from frontend.translate.responses.request_to_chat import responses_to_chat
from frontend.translation_plan import plan

USER = {"role": "user", "content": "hi"}
TOOL_TURN = [USER, {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
             {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}]
BILLING = "x-anthropic-billing-header: cc_version=2.1.3; cc_entrypoint=cli"


def anthropic(profile: Profile, **fields: object) -> dict:
    document = {"model": "m", "max_tokens": 32000, "messages": [USER], **fields}
    return to_chat_request(document, "m", profile)[0]


def test_a_tool_call_turn_goes_with_empty_content_to_openai_compatible_servers_and_null_to_openai() -> None:
    assert anthropic(default_profile("m"), messages=TOOL_TURN)["messages"][1]["content"] == ""
    assert anthropic(default_profile("m", "openai"), messages=TOOL_TURN)["messages"][1]["content"] is None
    items = [{"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
             {"type": "function_call_output", "call_id": "c1", "output": "ok"}]
    body, _ = responses_to_chat({"input": [{"role": "user", "content": "hi"}, *items]}, "m", default_profile("m"))
    assert body["messages"][1]["content"] == ""


@pytest.mark.parametrize(("preset", "model", "field"), [
    ("", "llama-3", "max_tokens"), ("openai", "gpt-4o", "max_completion_tokens"),
    ("azure", "o3-mini", "max_completion_tokens"), ("openrouter", "openai/o3", "max_tokens"),
])
def test_the_output_limit_goes_in_the_field_the_backend_and_model_read(preset: str, model: str, field: str) -> None:
    body = anthropic(default_profile(model, preset))
    assert body[field] == 32000 and {"max_tokens", "max_completion_tokens"} - {field} - set(body) == {
        "max_tokens", "max_completion_tokens"} - {field}
    responses, _ = responses_to_chat({"input": "hi", "max_output_tokens": 20}, model, default_profile(model, preset))
    assert responses[field] == 20 and len({"max_tokens", "max_completion_tokens"} & set(responses)) == 1


def test_usage_is_asked_for_in_streams_unless_the_profile_says_the_server_refuses_it() -> None:
    assert anthropic(default_profile("m"), stream=True)["stream_options"] == {"include_usage": True}
    assert "stream_options" not in anthropic(Profile(Compat(stream_usage=False)), stream=True)
    body, _ = responses_to_chat({"input": "hi", "stream": True}, "m", Profile(Compat(stream_usage=False)))
    assert body["stream"] is True and "stream_options" not in body


def test_claude_codes_billing_header_block_is_not_sent_as_prompt_text() -> None:
    body = anthropic(default_profile("m"), system=[{"type": "text", "text": BILLING},
                                                   {"type": "text", "text": "You are Claude Code."}])
    assert body["messages"][0] == {"role": "system", "content": "You are Claude Code."}
    alone = anthropic(default_profile("m"), system=[{"type": "text", "text": BILLING}])
    assert alone["messages"] == [USER]


def test_later_system_messages_stay_in_place_only_where_the_profile_allows_it() -> None:
    messages = [USER, {"role": "assistant", "content": "yes"}, {"role": "system", "content": "Reminder."}]
    merged = anthropic(default_profile("m"), system="S", messages=messages)["messages"]
    assert [message["role"] for message in merged] == ["system", "user", "assistant"]
    assert merged[0]["content"] == "S\n\nReminder."
    inline = anthropic(Profile(Compat(system_inline=True)), system="S", messages=messages)["messages"]
    assert inline[0] == {"role": "system", "content": "S"} and inline[-1] == {"role": "system", "content": "Reminder."}


def test_more_stop_sequences_than_openai_takes_is_refused_naming_the_field() -> None:
    stops = ["a", "b", "c", "d", "e"]
    assert anthropic(default_profile("m"), stop_sequences=stops)["stop"] == stops
    with pytest.raises(TranslationError, match="stop_sequences: .*at most 4"):
        anthropic(default_profile("gpt-4o", "openai"), stop_sequences=stops)


def test_reasoning_effort_goes_only_to_models_the_capability_data_names() -> None:
    assert anthropic(default_profile("o3-mini"), output_config={"effort": "max"})["reasoning_effort"] == "high"
    assert "reasoning_effort" not in anthropic(default_profile("gpt-4o"), output_config={"effort": "max"})


def test_a_prefill_is_continued_on_vllm_and_refused_where_the_profile_says_so() -> None:
    prefill = [USER, {"role": "assistant", "content": "The answer is"}]
    kept = anthropic(default_profile("m"), messages=prefill)
    assert kept["messages"][-1] == {"role": "assistant", "content": "The answer is"}
    assert "continue_final_message" not in kept
    continued = anthropic(default_profile("m", "vllm"), messages=prefill)
    assert continued["continue_final_message"] is True and continued["add_generation_prompt"] is False
    with pytest.raises(TranslationError, match=r"messages\[1\]: .*prefill"):
        anthropic(Profile(Compat(prefill="reject")), messages=prefill)
    assert "continue_final_message" not in anthropic(default_profile("m", "vllm"), messages=TOOL_TURN)


def test_thinking_goes_back_as_reasoning_content_to_backends_that_replay_it() -> None:
    turn = {"role": "assistant", "content": [{"type": "thinking", "thinking": "Need f.", "signature": ""},
                                             {"type": "tool_use", "id": "t1", "name": "f", "input": {}}]}
    messages = [USER, turn, TOOL_TURN[2]]
    replayed = anthropic(default_profile("deepseek-reasoner", "deepseek"), messages=messages)["messages"][1]
    assert replayed["reasoning_content"] == "Need f." and replayed["tool_calls"][0]["id"] == "t1"
    assert "reasoning_content" not in anthropic(default_profile("m"), messages=messages)["messages"][1]
    empty = dict(turn, content=[{"type": "thinking", "thinking": " ", "signature": ""}, turn["content"][1]])
    assert "reasoning_content" not in anthropic(default_profile("m", "deepseek"),
                                                messages=[USER, empty, TOOL_TURN[2]])["messages"][1]


def test_a_whitespace_only_stop_sequence_is_dropped_toward_anthropic_with_a_warning() -> None:
    document = {"model": "claude-sonnet-4-5", "messages": [USER], "stop": "\n"}
    body, warnings = to_anthropic_request(document, "claude-sonnet-4-5", 4096, default_profile("claude-sonnet-4-5"))
    assert "stop_sequences" not in body and "stop" in warnings
    body, warnings = to_anthropic_request(dict(document, stop=["\n", "END", " "]), "claude-sonnet-4-5", 4096,
                                          default_profile("claude-sonnet-4-5"))
    assert body["stop_sequences"] == ["END"] and "stop" in warnings


def test_sampling_and_thinking_follow_the_model_capabilities_not_its_name() -> None:
    document = {"model": "x", "messages": [USER], "temperature": 0.5, "reasoning_effort": "high"}
    adaptive = Profile(model=default_profile("claude-opus-5").model)
    body, warnings = to_anthropic_request(document, "my-claude", 4096, adaptive)
    assert body["thinking"] == {"type": "adaptive"} and "temperature" not in body and "temperature" in warnings
    body, _ = to_anthropic_request(document, "claude-opus-5", 4096, default_profile("claude-sonnet-4-5"))
    assert body["thinking"]["type"] == "enabled" and "temperature" not in body


def test_a_json_schema_goes_to_anthropic_closed_and_without_the_constraints_it_refuses() -> None:
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "tags": {"type": "array", "minItems": 2, "maxItems": 5, "items": {"type": "object", "properties": {
            "name": {"type": "string", "maxLength": 20}}, "additionalProperties": True}}},
        "required": ["age"]}
    document = {"model": "m", "messages": [USER],
                "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": schema}}}
    body, _ = to_anthropic_request(document, "m", 4096)
    sent = body["output_config"]["format"]["schema"]
    assert sent == {"type": "object", "additionalProperties": False, "required": ["age"], "properties": {
        "age": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                             "properties": {"name": {"type": "string"}}}}}}
    assert schema["properties"]["age"]["minimum"] == 0  # the client's document is left as it was


def test_a_recursive_json_schema_is_refused_naming_it() -> None:
    schema = {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}}
    document = {"model": "m", "messages": [USER],
                "response_format": {"type": "json_schema", "json_schema": {"name": "tree", "schema": schema}}}
    with pytest.raises(TranslationError, match=r"response_format.json_schema.schema: is recursive"):
        to_anthropic_request(document, "m", 4096)


def test_json_object_is_emulated_toward_anthropic_with_an_instruction() -> None:
    document = {"model": "m", "messages": [{"role": "system", "content": "S"}, USER],
                "response_format": {"type": "json_object"}}
    body, warnings = to_anthropic_request(document, "m", 4096)
    assert body["system"][0] == {"type": "text", "text": "S"}
    assert "one valid JSON object" in body["system"][-1]["text"] and "output_config" not in body and not warnings


def test_top_k_goes_to_servers_that_take_it_and_is_warned_elsewhere() -> None:
    document = {"model": "m", "max_tokens": 10, "messages": [USER], "top_k": 40}
    body, warnings = to_chat_request(document, "m", default_profile("m", "vllm"))
    assert body["top_k"] == 40 and "top_k" not in warnings
    body, warnings = to_chat_request(document, "m", default_profile("m", "groq"))
    assert "top_k" not in body and warnings == ["top_k"]


def test_more_tools_than_openai_takes_is_refused_naming_the_field() -> None:
    tools = [{"name": f"t{index}", "input_schema": {"type": "object"}} for index in range(129)]
    with pytest.raises(TranslationError, match="tools: .*at most 128"):
        anthropic(default_profile("gpt-4o", "openai"), tools=tools)
    assert len(anthropic(default_profile("m"), tools=tools)["tools"]) == 129
    responses_tools = [{"type": "function", "name": f"t{index}", "parameters": {}} for index in range(129)]
    with pytest.raises(TranslationError, match="tools: "):
        responses_to_chat({"input": "x", "tools": responses_tools}, "gpt-4o", default_profile("gpt-4o", "openai"))


def test_tool_call_ids_go_to_mistral_as_nine_letters_and_digits_and_still_match() -> None:
    document = {"model": "m", "max_tokens": 10, "messages": [
        USER, {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01ABCdef", "name": "f",
                                                 "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01ABCdef", "content": "ok"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "Ab3dE6gH9", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "Ab3dE6gH9", "content": "ok"}]}]}
    parsed = ParsedRequest(document=document, model="m", stream=False)
    messages = plan(ANTHROPIC_MESSAGES, parsed, "m", 4096, "openai", default_profile("m", "mistral")).body["messages"]
    first = messages[1]["tool_calls"][0]["id"]
    assert len(first) == 9 and first.isalnum() and messages[2]["tool_call_id"] == first
    assert messages[3]["tool_calls"][0]["id"] == messages[4]["tool_call_id"] == "Ab3dE6gH9"


def test_draft_04_tool_schemas_are_told_in_the_json_schema_anthropic_checks() -> None:
    parameters = {"$schema": "http://json-schema.org/draft-04/schema#", "properties": {
        "count": {"type": "integer", "minimum": 1, "exclusiveMinimum": True, "maximum": 9, "exclusiveMaximum": False},
        "path": {"type": "string", "required": True}, "mode": {"enum": [{"required": True}]}}}
    document = {"model": "m", "messages": [USER], "tools": [{"type": "function", "function": {
        "name": "f", "parameters": parameters}}]}
    schema = to_anthropic_request(document, "m", 4096)[0]["tools"][0]["input_schema"]
    assert schema == {"type": "object", "required": ["path"], "properties": {
        "count": {"type": "integer", "exclusiveMinimum": 1, "maximum": 9}, "path": {"type": "string"},
        "mode": {"enum": [{"required": True}]}}}
    assert "$schema" in parameters and parameters["properties"]["path"]["required"] is True
    with pytest.raises(TranslationError, match=r"tools\[0\].function.parameters: must be a JSON schema of type"):
        to_anthropic_request(dict(document, tools=[{"type": "function", "function": {
            "name": "f", "parameters": {"type": "array"}}}]), "m", 4096)


def test_legacy_function_calling_is_told_as_tools_toward_anthropic() -> None:
    document = {"model": "m", "functions": [{"name": "f", "parameters": {"type": "object"}}],
                "function_call": {"name": "f"}, "messages": [
                    USER, {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
                    {"role": "function", "name": "f", "content": "42"}]}
    body, _ = to_anthropic_request(document, "m", 4096)
    assert [tool["name"] for tool in body["tools"]] == ["f"] and body["tool_choice"] == {"type": "tool", "name": "f"}
    call = body["messages"][1]["content"][0]
    assert call["type"] == "tool_use" and body["messages"][2]["content"][0] == {
        "type": "tool_result", "tool_use_id": call["id"], "content": "42"}


def test_allowed_tools_filters_the_tools_sent_to_anthropic() -> None:
    tools = [{"type": "function", "function": {"name": name, "parameters": {"type": "object"}}} for name in "abc"]
    choice = {"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": [
        {"type": "function", "function": {"name": "b"}}]}}
    body, _ = to_anthropic_request({"model": "m", "messages": [USER], "tools": tools, "tool_choice": choice}, "m",
                                   4096)
    assert [tool["name"] for tool in body["tools"]] == ["b"] and body["tool_choice"] == {"type": "any"}


def test_pdfs_cross_both_ways_as_documents_and_file_parts() -> None:
    part = {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}}
    body, _ = to_anthropic_request({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Summarise."}, part]}]}, "m", 4096)
    document = body["messages"][0]["content"][1]
    assert document == {"type": "document", "title": "a.pdf", "source": {
        "type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}}
    chat = anthropic(default_profile("m"), messages=[{"role": "user", "content": [
        {"type": "text", "text": "Summarise."}, document,
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}}]}])
    assert chat["messages"][0]["content"][1] == part and chat["messages"][0]["content"][2] == {
        "type": "text", "text": "notes"}
    with pytest.raises(TranslationError, match="document source 'url'"):
        anthropic(default_profile("m"), messages=[{"role": "user", "content": [
            {"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}}]}])


def test_a_prefill_is_refused_toward_a_model_whose_capabilities_say_it_takes_none() -> None:
    document = {"model": "m", "messages": [USER, {"role": "assistant", "content": "Sure:"}]}
    assert to_anthropic_request(document, "m", 4096)[0]["messages"][-1]["content"][0]["text"] == "Sure:"
    with pytest.raises(TranslationError, match="messages: .*prefill"):
        to_anthropic_request(document, "m", 4096, Profile(model=Capabilities(prefill=False)))


def test_web_search_options_are_refused_toward_anthropic() -> None:
    with pytest.raises(TranslationError, match="web_search_options"):
        to_anthropic_request({"model": "m", "messages": [USER], "web_search_options": {}}, "m", 4096)


def test_gemini_gets_tool_schemas_without_the_keywords_it_refuses() -> None:
    schema = {"$schema": "x", "type": "object", "additionalProperties": False,
              "properties": {"additionalProperties": {"type": "string", "examples": ["a"]}}}
    document = {"model": "g", "max_tokens": 10, "messages": [USER],
                "tools": [{"name": "f", "input_schema": schema}]}
    parsed = ParsedRequest(document=document, model="g", stream=False)
    sent = plan(ANTHROPIC_MESSAGES, parsed, "gemini-2.5-pro", 4096, "openai",
                default_profile("gemini-2.5-pro", "gemini")).body["tools"][0]["function"]["parameters"]
    assert sent == {"type": "object", "properties": {"additionalProperties": {"type": "string"}}}
    assert schema["$schema"] == "x"


def test_a_responses_clients_reasoning_items_go_back_as_reasoning_content_to_deepseek() -> None:
    items = [{"role": "user", "content": "hi"},
             {"type": "reasoning", "id": "rs_1", "summary": [],
              "content": [{"type": "reasoning_text", "text": "Need f."}]},
             {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
             {"type": "function_call_output", "call_id": "c1", "output": "ok"},
             {"type": "reasoning", "id": "rs_2", "summary": [{"type": "summary_text", "text": "  "}]},
             {"role": "user", "content": "again"}]
    body, _ = responses_to_chat({"input": items}, "deepseek-reasoner", default_profile("deepseek-reasoner", "deepseek"))
    assert body["messages"][1]["reasoning_content"] == "Need f." and body["messages"][1]["tool_calls"]
    assert all("reasoning_content" not in message for message in body["messages"][2:])
    plain, _ = responses_to_chat({"input": items}, "m", default_profile("m"))
    assert all("reasoning_content" not in message for message in plain["messages"])
