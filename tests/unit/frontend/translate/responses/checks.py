"""What the Responses translator tests share: the requests they translate (plain function tools, and Codex's
namespaced and custom tools), and how the openai SDK's own types and stream accumulator read what comes out."""

from __future__ import annotations

import json

import httpx2
import openai
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from dario.json_types import JsonObject
from frontend.translate.sse import SseParser
from tests.unit.frontend.translate.stream_checks import TOOLS

FUNCTION_TOOLS = [{"type": "function", "name": name, "description": f"{name} tool", "strict": False,
                   "parameters": {"type": "object", "properties": {}}} for name, _ in TOOLS]
REQUEST = {"model": "alias", "instructions": "Be brief.", "input": "What is the weather?", "tools": FUNCTION_TOOLS,
           "stream": True}
EVENTS = TypeAdapter(ResponseStreamEvent)


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


EXEC_GRAMMAR = 'start: command\ncommand: /[^\\n]+/'
CODEX_TOOLS = {"type": "additional_tools", "role": "developer", "tools": [
    {"type": "namespace", "name": "functions", "description": "Codex tools", "tools": [
        {"type": "custom", "name": "exec", "description": "Runs a shell command.",
         "format": {"type": "grammar", "syntax": "lark", "definition": EXEC_GRAMMAR}},
        {"type": "function", "name": "update_plan", "description": "Updates the plan.",
         "parameters": {"type": "object", "properties": {"plan": {"type": "string"}}}}]},
    {"type": "namespace", "name": "clock", "description": "", "tools": [
        {"type": "function", "name": "now", "parameters": {"type": "object", "properties": {}}}]}]}
CODEX: JsonObject = {"model": "alias", "instructions": "You are Codex.", "stream": True, "store": False,
         "tool_choice": "auto", "parallel_tool_calls": True,
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
