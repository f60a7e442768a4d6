"""The stream state machines under any re-splitting of the upstream bytes: same content, tool calls and usage."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from frontend.translate.anthropic_stream_to_chat import AnthropicToChatStream
from frontend.translate.chat_stream_to_anthropic import ChatToAnthropicStream
from frontend.translate.sse import SseParser
from tests.support import anthropic_wire, openai_wire
from tests.support.splitting import split_at

TEXT = "héllo wörld ☃ 🚀 " * 3
TOOLS = [("get_weather", {"city": "Paris", "note": "ünïcode ☃"}), ("get_time", {}), ("noop", {"deep": {"a": [1, 2]}})]


def run(machine, pieces: list[bytes]) -> bytes:
    return b"".join(machine.feed(piece) for piece in pieces) + machine.finish()


def openai_result(output: bytes) -> tuple[str, list, str | None, dict | None, bool]:
    """Accumulates an OpenAI client stream the way the SDK does; checks its invariants."""
    text, calls, finish, usage, done = "", {}, None, None, False
    for event in SseParser().feed(output):
        if event.data == "[DONE]":
            done = True
            continue
        chunk = json.loads(event.data)
        assert chunk["object"] == "chat.completion.chunk"
        usage = chunk.get("usage") or usage
        for choice in chunk["choices"]:
            delta = choice["delta"]
            text += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                entry = calls.setdefault(call["index"], {"name": "", "arguments": ""})
                if "id" in call:
                    assert "id" not in entry, "a tool call id was sent twice"
                    entry["id"] = call["id"]
                entry["name"] += call.get("function", {}).get("name", "")
                entry["arguments"] += call.get("function", {}).get("arguments", "")
            finish = choice.get("finish_reason") or finish
    ordered = [calls[index] for index in sorted(calls)]
    assert sorted(calls) == list(range(len(calls))), "tool indexes must run 0..k-1"
    return text, [(c["name"], json.loads(c["arguments"])) for c in ordered], finish, usage, done


def anthropic_result(output: bytes) -> tuple[str, list, str | None, dict]:
    """Accumulates an Anthropic client stream the way the SDK does; checks the event grammar."""
    events = SseParser().feed(output)
    names = [event.name for event in events]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert names.count("message_start") == names.count("message_stop") == 1
    blocks, open_index, stop, usage = [], None, None, {}
    for event in events:
        data = json.loads(event.data)
        assert data["type"] == event.name, "every event carries its name on an event: line"
        if event.name == "content_block_start":
            assert open_index is None and data["index"] == len(blocks), "one block at a time, indexes 0..n-1"
            open_index = data["index"]
            blocks.append(dict(data["content_block"], partial=""))
        elif event.name == "content_block_delta":
            assert data["index"] == open_index
            delta = data["delta"]
            block = blocks[open_index]
            block["text" if delta["type"] == "text_delta" else "partial"] = (
                block.get("text", "") + delta["text"] if delta["type"] == "text_delta"
                else block["partial"] + delta.get("partial_json", ""))
        elif event.name == "content_block_stop":
            assert data["index"] == open_index
            open_index = None
        elif event.name == "message_delta":
            stop, usage = data["delta"]["stop_reason"], data["usage"]
    assert open_index is None
    text = "".join(block.get("text", "") for block in blocks if block["type"] == "text")
    tools = [(block["name"], json.loads(block["partial"] or "{}")) for block in blocks if block["type"] == "tool_use"]
    return text, tools, stop, usage


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=100_000), max_size=60), st.integers(min_value=0, max_value=3))
def test_anthropic_stream_to_openai_client_under_any_split(cuts: list[int], tool_count: int) -> None:
    tools = TOOLS[:tool_count]
    upstream = anthropic_wire.stream_events("claude-opus-5", TEXT, anthropic_wire.usage(12, 34, cache_read=5),
                                            tools=tools)
    output = run(AnthropicToChatStream("claude-opus-5", True), split_at(upstream, cuts))
    text, calls, finish, usage, done = openai_result(output)
    assert text == TEXT and calls == tools and done
    assert finish == ("tool_calls" if tools else "stop")
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (17, 34)
    assert usage["prompt_tokens_details"]["cached_tokens"] == 5


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=100_000), max_size=60), st.integers(min_value=0, max_value=3))
def test_openai_stream_to_anthropic_client_under_any_split(cuts: list[int], tool_count: int) -> None:
    tools = TOOLS[:tool_count]
    usage_body = openai_wire.usage(40, 9, cached=8)
    upstream = openai_wire.stream_events("gpt-4o", TEXT, usage_body, include_usage=True, tools=tools)
    text, calls, stop, usage = anthropic_result(run(ChatToAnthropicStream("gpt-4o"), split_at(upstream, cuts)))
    assert text == TEXT and calls == tools
    assert stop == ("tool_use" if tools else "end_turn")
    assert (usage["input_tokens"], usage["output_tokens"], usage["cache_read_input_tokens"]) == (32, 9, 8)


def test_zero_argument_tool_reaches_openai_clients_as_empty_object() -> None:
    upstream = anthropic_wire.stream_events("m", "", None, tools=[("ping", {})]).replace(
        b'"partial_json": "{}"', b'"partial_json": ""')
    _, calls, finish, _, _ = openai_result(run(AnthropicToChatStream("m", False), [upstream]))
    assert calls == [("ping", {})] and finish == "tool_calls"


def test_ollama_stop_with_tool_calls_becomes_tool_use() -> None:
    upstream = openai_wire.stream_events("llama", "", None, include_usage=False, tools=[TOOLS[0]]).replace(
        b'"finish_reason": "tool_calls"', b'"finish_reason": "stop"')
    _, calls, stop, _ = anthropic_result(run(ChatToAnthropicStream("llama"), [upstream]))
    assert calls == [TOOLS[0]] and stop == "tool_use"


def test_parallel_calls_reusing_index_zero_stay_apart() -> None:
    def chunk(delta: dict, finish: str | None = None) -> bytes:
        return openai_wire.sse({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "g",
                                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    upstream = b"".join([
        chunk({"role": "assistant"}),
        chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "one", "arguments": '{"x":'}}]}),
        chunk({"tool_calls": [{"index": 0, "id": "b", "function": {"name": "two", "arguments": '{"y":2}'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
        chunk({}, "tool_calls"),
        b"data: [DONE]\n\n",
    ])
    _, calls, stop, _ = anthropic_result(run(ChatToAnthropicStream("g"), [upstream]))
    assert stop == "tool_use"
    assert sorted(calls) == [("one", {"x": 1}), ("two", {"y": 2})]


def test_upstream_error_mid_stream_becomes_an_error_event_without_message_stop() -> None:
    upstream = openai_wire.stream_events("g", TEXT, None, include_usage=False)
    cut = upstream.index(b"data: ", 200)
    broken = upstream[:cut] + b'data: {"error": {"message": "overloaded", "type": "server_error", "code": 503}}\n\n'
    output = run(ChatToAnthropicStream("g"), [broken])
    names = [event.name for event in SseParser().feed(output)]
    assert names[-1] == "error" and "message_stop" not in names


def test_anthropic_error_event_reaches_openai_clients_without_done() -> None:
    upstream = anthropic_wire.stream_events("m", TEXT, None)
    cut = upstream.index(b"event: content_block_stop")
    broken = upstream[:cut] + anthropic_wire.event("error", {"type": "error", "error": {
        "type": "overloaded_error", "message": "Overloaded"}})
    output = run(AnthropicToChatStream("m", False), [broken])
    last = SseParser().feed(output)[-1]
    assert json.loads(last.data)["error"]["message"] == "Overloaded"
    assert b"[DONE]" not in output


def test_streams_that_end_early_say_so() -> None:
    anthropic_stream = anthropic_wire.stream_events("m", TEXT, None)
    output = run(AnthropicToChatStream("m", False), [anthropic_stream[: len(anthropic_stream) // 2]])
    assert b"ended prematurely" in output and b"[DONE]" not in output
    openai_stream = openai_wire.stream_events("g", TEXT, None, include_usage=False)
    output = run(ChatToAnthropicStream("g"), [openai_stream[: len(openai_stream) // 3]])
    assert b"event: error" in output and b"message_stop" not in output
