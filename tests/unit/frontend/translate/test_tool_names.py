"""Tool names OpenAI refuses are shortened deterministically and come back as the client named them, in whole
answers and in streams split anywhere (issue 16 item 5)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from dario.compat import default_profile
from dario.testing import anthropic_wire, openai_wire
from frontend.dialects import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES, Dialect
from frontend.request_parsing import ParsedRequest
from frontend.translate.sse import SseParser
from frontend.translate.tool_names import VALID, shorten_tool_names
from frontend.translation_plan import Plan, plan

LONG = "mcp__claude_in_chrome_extension_server__browser_take_screenshot_of_the_page"  # 75 characters
DOTTED = "files.read"


def anthropic_request(stream: bool = False) -> dict:
    tools = [{"name": name, "input_schema": {"type": "object"}} for name in (LONG, DOTTED, "Bash")]
    history = [{"role": "user", "content": "go"},
               {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": LONG, "input": {}}]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}]
    return {"model": "llama", "max_tokens": 100, "messages": history, "tools": tools,
            "tool_choice": {"type": "tool", "name": DOTTED}, "stream": stream}


def planned(document: dict, dialect: Dialect = ANTHROPIC_MESSAGES) -> Plan:
    parsed = ParsedRequest(document=document, model=document.get("model", "llama"), stream=bool(document.get("stream")))
    return plan(dialect, parsed, "llama", 4096, "openai", default_profile("llama"))


def test_invalid_names_are_shortened_the_same_way_everywhere_in_the_request() -> None:
    body = planned(anthropic_request()).body
    names = [tool["function"]["name"] for tool in body["tools"]]
    assert names[2] == "Bash" and all(VALID.match(name) for name in names) and len(set(names)) == 3
    assert body["messages"][1]["tool_calls"][0]["function"]["name"] == names[0]
    assert body["tool_choice"]["function"]["name"] == names[1]
    again = planned(anthropic_request()).body
    assert [tool["function"]["name"] for tool in again["tools"]] == names  # deterministic


def test_a_shortened_name_never_takes_a_name_the_client_declared() -> None:
    body = {"tools": [{"type": "function", "function": {"name": "a.b"}}]}
    taken = shorten_tool_names(json.loads(json.dumps(body)))
    short = next(iter(taken))
    clash = {"tools": [{"type": "function", "function": {"name": "a.b"}},
                       {"type": "function", "function": {"name": short}}]}
    names = shorten_tool_names(clash)
    assert names[clash["tools"][0]["function"]["name"]] == "a.b" and clash["tools"][0]["function"]["name"] != short


def test_the_whole_answer_calls_the_tool_by_the_clients_name() -> None:
    translation = planned(anthropic_request())
    sent = translation.body["tools"][0]["function"]["name"]
    completion = openai_wire.completion("llama", "", None, tools=[(sent, {"x": 1})])
    message = translation.answer(completion)
    assert [block["name"] for block in message["content"] if block["type"] == "tool_use"] == [LONG]


@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30))
def test_a_stream_split_anywhere_calls_the_tool_by_the_clients_name(cuts: list[int]) -> None:
    translation = planned(anthropic_request(stream=True))
    sent = translation.body["tools"][0]["function"]["name"]
    upstream = openai_wire.stream_events("llama", "", None, include_usage=False, tools=[(sent, {"x": 1})])
    out, offset, index = b"", 0, 0
    while offset < len(upstream):
        size = cuts[index % len(cuts)]
        out += translation.machine.feed(upstream[offset:offset + size])
        offset, index = offset + size, index + 1
    out += translation.machine.finish()
    events = [json.loads(event.data) for event in SseParser().feed(out)]
    starts = [event["content_block"] for event in events if event["type"] == "content_block_start"]
    assert [block["name"] for block in starts if block["type"] == "tool_use"] == [LONG]
    assert translation.machine.delivered


def test_a_responses_client_gets_its_long_function_name_back() -> None:
    document = {"model": "llama", "input": "go", "tools": [
        {"type": "function", "name": LONG, "parameters": {"type": "object"}}]}
    translation = planned(document, OPENAI_RESPONSES)
    sent = translation.body["tools"][0]["function"]["name"]
    assert sent != LONG and VALID.match(sent)
    answer = translation.answer(openai_wire.completion("llama", "", None, tools=[(sent, {})]))
    assert [item["name"] for item in answer["output"] if item["type"] == "function_call"] == [LONG]


def test_backends_that_take_any_name_get_the_clients() -> None:
    parsed = ParsedRequest(document=anthropic_request(), model="llama", stream=False)
    profile = default_profile("llama")
    any_names = type(profile)(type(profile.compat)(tool_names="any"), profile.model)
    body = plan(ANTHROPIC_MESSAGES, parsed, "llama", 4096, "openai", any_names).body
    assert body["tools"][0]["function"]["name"] == LONG


def test_a_chat_clients_dotted_tool_name_reaches_anthropic_valid_and_comes_back() -> None:
    document = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "read it"}],
                "tools": [{"type": "function", "function": {"name": DOTTED, "parameters": {"type": "object"}}}],
                "tool_choice": {"type": "function", "function": {"name": DOTTED}}, "stream": True}
    parsed = ParsedRequest(document=document, model="claude-sonnet-4-5", stream=True)
    translation = plan(OPENAI_CHAT, parsed, "claude-sonnet-4-5", 4096, "anthropic",
                       default_profile("claude-sonnet-4-5", "anthropic"))
    sent = translation.body["tools"][0]["name"]
    assert sent != DOTTED and VALID.match(sent) and translation.body["tool_choice"]["name"] == sent
    whole = translation.answer(anthropic_wire.message("claude-sonnet-4-5", "", None, tools=[(sent, {})]))
    assert [call["function"]["name"] for call in whole["choices"][0]["message"]["tool_calls"]] == [DOTTED]
    upstream = anthropic_wire.stream_events("claude-sonnet-4-5", "", anthropic_wire.usage(3, 4), tools=[(sent, {})])
    out = translation.machine.feed(upstream) + translation.machine.finish()
    chunks = [json.loads(event.data) for event in SseParser().feed(out) if event.data != "[DONE]"]
    names = [call["function"].get("name") for chunk in chunks for choice in chunk.get("choices", [])
             for call in choice["delta"].get("tool_calls") or [] if call["function"].get("name")]
    assert names == [DOTTED]
