"""The built-in local_shell tool on translated backends: the tool told as a function of its action's fields, the
history's local_shell_call items told as calls of it, and its calls told back as local_shell_call items, whole and
streamed (added in progress, done completed, no argument events), with a function_call when the arguments make no
exec action. Checked against the openai SDK's own types and stream accumulator."""

from __future__ import annotations

import json

import pytest
from openai.types.responses import Response

from dario.testing import anthropic_wire, openai_wire
from frontend.translate import TranslationError
from frontend.translate.responses.answer import anthropic_to_response, chat_to_response
from frontend.translate.responses.anthropic_stream import AnthropicToResponsesStream
from frontend.translate.responses.chat_stream import ChatToResponsesStream
from frontend.translate.responses.request_to_anthropic import responses_to_anthropic
from frontend.translate.responses.request_to_chat import responses_to_chat
from frontend.upstream.relay import StreamMachine
from tests.unit.frontend.translate.responses.checks import (
    FUNCTION_TOOLS,
    check_grammar,
    checked_events,
    comparable,
    sdk_stream,
)
from tests.unit.frontend.translate.stream_checks import run

SHELL = {"model": "alias", "input": "list the files", "tools": [{"type": "local_shell"}, FUNCTION_TOOLS[0]],
         "stream": True}
ACTION = {"command": ["bash", "-lc", "ls -la ☃"], "timeout_ms": 5000, "working_directory": "/tmp",
          "env": {"LANG": "C"}, "user": "me"}
HISTORY = [
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list the files"}]},
    {"type": "local_shell_call", "id": "lsh_1", "call_id": "call_1", "status": "completed",
     "action": {"type": "exec", **ACTION}},
    {"type": "local_shell_call", "id": "lsh_2", "call_id": "call_2", "status": "completed",
     "action": {"type": "exec", "command": ["pwd"], "env": {}, "timeout_ms": None, "user": None,
                "working_directory": None}},
    {"type": "local_shell_call_output", "call_id": "call_1", "output": "a.txt\n"},
    {"type": "local_shell_call_output", "id": "call_2", "output": "/tmp\n"},  # the SDK's type names it by id
]


def chunk(delta: dict, finish: str | None = None) -> bytes:
    return openai_wire.sse({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "g",
                            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


def shell_stream(arguments: str, finish: str | None = "tool_calls", more: list[bytes] | None = None) -> bytes:
    """A Chat stream calling local_shell with `arguments` in pieces of 5 characters (None: cut before the end)."""
    pieces = [chunk({"role": "assistant", "content": ""}),
              chunk({"tool_calls": [{"index": 0, "id": "call_s", "type": "function",
                                     "function": {"name": "local_shell", "arguments": ""}}]})]
    pieces += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[start : start + 5]}}]})
               for start in range(0, len(arguments), 5)]
    pieces += more or []
    if finish is None:
        return b"".join(pieces)
    return b"".join(pieces) + chunk({}, finish) + b"data: [DONE]\n\n"


def test_the_tool_becomes_a_function_of_the_actions_fields_on_chat_and_anthropic() -> None:
    body, warnings = responses_to_chat(SHELL, "g")
    shell = body["tools"][0]
    assert shell["type"] == "function" and shell["function"]["name"] == "local_shell" and not warnings
    schema = shell["function"]["parameters"]
    assert schema["required"] == ["command"]
    assert schema["properties"]["command"] == {"type": "array", "items": {"type": "string"},
                                               "description": schema["properties"]["command"]["description"]}
    assert {name: spec["type"] for name, spec in schema["properties"].items()} == {
        "command": "array", "timeout_ms": "integer", "working_directory": "string", "env": "object",
        "user": "string"}
    assert schema["properties"]["env"]["additionalProperties"] == {"type": "string"}
    assert [tool["function"]["name"] for tool in body["tools"]] == ["local_shell", FUNCTION_TOOLS[0]["name"]]
    anthropic, _ = responses_to_anthropic(SHELL, "claude-sonnet-5", 1024)
    assert anthropic["tools"][0]["name"] == "local_shell" and anthropic["tools"][0]["input_schema"] == schema


def test_tool_choice_can_force_or_allow_the_shell() -> None:
    body, _ = responses_to_chat({**SHELL, "tool_choice": {"type": "local_shell"}}, "g")
    assert body["tool_choice"] == {"type": "function", "function": {"name": "local_shell"}}
    body, _ = responses_to_chat({**SHELL, "tool_choice": {"type": "allowed_tools", "mode": "required",
                                                          "tools": [{"type": "local_shell"}]}}, "g")
    assert body["tool_choice"] == "required" and [tool["function"]["name"] for tool in body["tools"]] == [
        "local_shell"]
    with pytest.raises(TranslationError) as raised:  # not declared: nothing to force
        responses_to_chat({"input": "x", "tools": FUNCTION_TOOLS, "tool_choice": {"type": "local_shell"}}, "g")
    assert raised.value.param == "tool_choice"


def test_history_calls_become_tool_calls_and_their_outputs_tool_results() -> None:
    body, _ = responses_to_chat({**SHELL, "input": HISTORY}, "g")
    user, assistant, first, second = body["messages"]
    assert user == {"role": "user", "content": "list the files"}
    calls = assistant["tool_calls"]
    assert [(call["id"], call["function"]["name"]) for call in calls] == [("call_1", "local_shell"),
                                                                          ("call_2", "local_shell")]
    assert [json.loads(call["function"]["arguments"]) for call in calls] == [ACTION, {"command": ["pwd"]}]
    assert first == {"role": "tool", "tool_call_id": "call_1", "content": "a.txt\n"}
    assert second == {"role": "tool", "tool_call_id": "call_2", "content": "/tmp\n"}
    anthropic, _ = responses_to_anthropic({**SHELL, "input": HISTORY}, "claude-sonnet-5", 1024)
    uses = [block for block in anthropic["messages"][1]["content"] if block["type"] == "tool_use"]
    assert [(block["name"], block["input"]) for block in uses] == [("local_shell", ACTION),
                                                                   ("local_shell", {"command": ["pwd"]})]
    results = [block for block in anthropic["messages"][2]["content"] if block["type"] == "tool_result"]
    assert [block["tool_use_id"] for block in results] == [block["id"] for block in uses]


@pytest.mark.parametrize(("action", "param"), [
    (None, "input[1].action.command"), ({"type": "exec", "command": "ls"}, "input[1].action.command"),
    ({"type": "exec", "command": []}, "input[1].action.command"),
    ({"type": "exec", "command": ["ls", 1]}, "input[1].action.command"),
    ({"type": "spawn", "command": ["ls"]}, "input[1].action.type"),
    ({"type": "exec", "command": ["ls"], "timeout_ms": "5s"}, "input[1].action.timeout_ms"),
    ({"type": "exec", "command": ["ls"], "env": {"A": 1}}, "input[1].action.env"),
    ({"type": "exec", "command": ["ls"], "working_directory": 7}, "input[1].action.working_directory")])
def test_a_malformed_history_call_is_a_400_naming_the_field(action: object, param: str) -> None:
    item = {"type": "local_shell_call", "id": "lsh_1", "call_id": "c", "status": "completed", "action": action}
    with pytest.raises(TranslationError) as raised:
        responses_to_chat({**SHELL, "input": [HISTORY[0], item]}, "g")
    assert raised.value.param == param


def test_a_function_of_the_same_name_beside_the_tool_is_a_400() -> None:
    clash = {**SHELL, "tools": [{"type": "local_shell"}, {"type": "function", "name": "local_shell"}]}
    with pytest.raises(TranslationError) as raised:
        responses_to_chat(clash, "g")
    assert raised.value.param == "tools[1].name" and "local_shell tool" in str(raised.value)


def test_a_whole_answer_calling_the_shell_is_a_local_shell_call_item() -> None:
    completion = openai_wire.completion("g", "Listing.", openai_wire.usage(5, 6), tools=[("local_shell", ACTION)])
    call_id = completion["choices"][0]["message"]["tool_calls"][0]["id"]
    response = Response.model_validate(chat_to_response(completion, "alias", SHELL))
    message, call = response.output
    assert message.type == "message" and call.type == "local_shell_call"
    assert (call.call_id, call.status, call.id.startswith("lsh_")) == (call_id, "completed", True)
    assert call.action.model_dump(exclude_none=True) == {"type": "exec", **ACTION}
    assert [tool.type for tool in response.tools] == ["local_shell", "function"]
    answer = anthropic_wire.message("m", "", anthropic_wire.usage(5, 6), tools=[("local_shell", {"command": ["ls"]})])
    call = Response.model_validate(anthropic_to_response(answer, "alias", SHELL)).output[0]
    assert call.type == "local_shell_call"
    assert call.action.model_dump(exclude_none=True) == {"type": "exec", "command": ["ls"], "env": {}}


@pytest.mark.parametrize("arguments", ['{"command": ["ls"', '{"command": "ls -la"}', '{"cmd": ["ls"]}', "[1]",
                                       '{"command": []}'])
def test_arguments_that_make_no_exec_action_stay_a_function_call(arguments: str) -> None:
    completion = openai_wire.completion("g", "", None, tools=[("local_shell", {})])
    completion["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = arguments
    call = Response.model_validate(chat_to_response(completion, "alias", SHELL)).output[0]
    assert (call.type, call.name, call.arguments) == ("function_call", "local_shell", arguments)


def test_fields_of_the_wrong_type_count_as_absent() -> None:
    arguments = {"command": ["ls"], "timeout_ms": "soon", "env": {"A": "1", "B": 2}, "user": 3,
                 "working_directory": "/w"}
    completion = openai_wire.completion("g", "", None, tools=[("local_shell", arguments)])
    call = Response.model_validate(chat_to_response(completion, "alias", SHELL)).output[0]
    assert call.action.model_dump(exclude_none=True) == {"type": "exec", "command": ["ls"], "env": {"A": "1"},
                                                         "working_directory": "/w"}


def test_without_the_built_in_a_function_named_local_shell_stays_a_function() -> None:
    document = {"input": "x", "tools": [{"type": "function", "name": "local_shell", "parameters": {}}]}
    body, _ = responses_to_chat(document, "g")
    assert body["tools"][0]["function"]["parameters"] == {"type": "object", "properties": {}}
    completion = openai_wire.completion("g", "", None, tools=[("local_shell", {"command": ["ls"]})])
    call = Response.model_validate(chat_to_response(completion, "alias", document)).output[0]
    assert (call.type, call.name) == ("function_call", "local_shell")
    events = checked_events(run(ChatToResponsesStream("alias", document), [shell_stream('{"command": ["ls"]}')]))
    assert [event.item.type for event in events if event.type == "response.output_item.done"] == ["function_call"]
    assert "response.function_call_arguments.delta" in [event.type for event in events]


@pytest.mark.parametrize("backend", ["chat", "anthropic"])
@pytest.mark.parametrize("one_byte", [False, True])
def test_a_streamed_shell_call_is_added_in_progress_then_done_completed(backend: str, one_byte: bool) -> None:
    tools = [("local_shell", ACTION), (FUNCTION_TOOLS[0]["name"], {"city": "Paris"})]
    if backend == "chat":
        upstream = openai_wire.stream_events("g", "Listing.", openai_wire.usage(5, 6), include_usage=True,
                                             tools=tools)
        machine: StreamMachine = ChatToResponsesStream("alias", SHELL)
    else:
        upstream = anthropic_wire.stream_events("m", "Listing.", anthropic_wire.usage(5, 6), tools=tools)
        machine = AnthropicToResponsesStream("alias", SHELL)
    pieces = [upstream[i : i + 1] for i in range(len(upstream))] if one_byte else [upstream]
    output = run(machine, pieces)
    events = checked_events(output)
    check_grammar(events)
    shell = [event for event in events if getattr(event, "item", None) and event.item.type == "local_shell_call"]
    assert [(event.type, event.item.status) for event in shell] == [
        ("response.output_item.added", "in_progress"), ("response.output_item.done", "completed")]
    assert shell[0].item.id == shell[1].item.id and shell[0].output_index == shell[1].output_index == 1
    assert shell[0].item.action.model_dump(exclude_none=True) == {"type": "exec", **ACTION}
    argument_events = [event for event in events if event.type.startswith("response.function_call_arguments")]
    assert argument_events and all(event.item_id != shell[0].item.id for event in argument_events)
    final = events[-1].response
    assert events[-1].type == "response.completed"
    assert [item.type for item in final.output] == ["message", "local_shell_call", "function_call"]
    _, accumulated = sdk_stream(output, SHELL)
    assert accumulated.output[1].action.command == ACTION["command"]
    if backend == "chat":
        whole = chat_to_response(openai_wire.completion("g", "Listing.", openai_wire.usage(5, 6), tools=tools),
                                 "alias", SHELL)
        streamed, answered = comparable(accumulated), comparable(Response.model_validate(whole))
        for document in (streamed, answered):
            document["output"][1].pop("call_id")  # the scripted answers make their own ids
        assert streamed == answered


def test_streamed_arguments_that_make_no_action_go_out_as_a_function_call() -> None:
    events = checked_events(run(ChatToResponsesStream("alias", SHELL), [shell_stream('{"command": "ls -la"}')]))
    check_grammar(events)
    kinds = [event.type for event in events]
    assert kinds[2:] == ["response.output_item.added", "response.function_call_arguments.delta",
                         "response.function_call_arguments.done", "response.output_item.done",
                         "response.completed"]
    call = events[-1].response.output[0]
    assert (call.type, call.name, call.arguments, call.status) == (
        "function_call", "local_shell", '{"command": "ls -la"}', "completed")


def test_content_and_calls_after_a_pending_shell_call_keep_their_order() -> None:
    more = [chunk({"content": "Done."}),
            chunk({"tool_calls": [{"index": 1, "id": "call_f", "function": {"name": "get_weather",
                                                                            "arguments": '{"city": "Oslo"}'}}]})]
    events = checked_events(run(ChatToResponsesStream("alias", SHELL), [shell_stream('{"command": ["ls"]}',
                                                                                     more=more)]))
    check_grammar(events)
    output = events[-1].response.output
    assert [item.type for item in output] == ["local_shell_call", "function_call", "message"]
    assert output[0].action.command == ["ls"] and output[1].call_id == "call_f"


def test_a_stream_cut_during_a_shell_call_fails_carrying_the_call_incomplete() -> None:
    events = checked_events(run(ChatToResponsesStream("alias", SHELL), [shell_stream('{"command": ["ls"]}',
                                                                                     finish=None)]))
    assert [event.type for event in events[2:]] == ["error", "response.failed"]
    call = events[-1].response.output[0]
    assert (call.type, call.status, call.action.command) == ("local_shell_call", "incomplete", ["ls"])
    events = checked_events(run(ChatToResponsesStream("alias", SHELL), [shell_stream('{"command": ["l',
                                                                                     finish=None)]))
    call = events[-1].response.output[0]
    assert (call.type, call.status, call.arguments) == ("function_call", "incomplete", '{"command": ["l')


def test_a_shell_call_cut_by_the_token_limit_is_incomplete() -> None:
    events = checked_events(run(ChatToResponsesStream("alias", SHELL), [shell_stream('{"command": ["ls"]}',
                                                                                     finish="length")]))
    check_grammar(events)
    assert events[-1].type == "response.incomplete"
    done = [event.item for event in events if event.type == "response.output_item.done"]
    assert [(item.type, item.status) for item in done] == [("local_shell_call", "incomplete")]
