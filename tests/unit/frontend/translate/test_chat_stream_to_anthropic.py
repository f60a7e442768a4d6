"""Chat Completions streams → Anthropic client streams, under any split (translation.md §6.1)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dario.testing import anthropic_wire, openai_wire
from dario.testing.splitting import split_at
from frontend.translate.anthropic_stream_to_chat import AnthropicToChatStream
from frontend.translate.chat_stream_to_anthropic import ChatToAnthropicStream
from frontend.translate.sse import SseParser
from tests.unit.frontend.translate.stream_checks import TEXT, TOOLS, anthropic_result, run


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


def test_streams_that_end_early_say_so() -> None:
    anthropic_stream = anthropic_wire.stream_events("m", TEXT, None)
    output = run(AnthropicToChatStream("m", False), [anthropic_stream[: len(anthropic_stream) // 2]])
    assert b"cut off" in output and b"[DONE]" not in output
    openai_stream = openai_wire.stream_events("g", TEXT, None, include_usage=False)
    output = run(ChatToAnthropicStream("g"), [openai_stream[: len(openai_stream) // 3]])
    assert b"event: error" in output and b"message_stop" not in output
