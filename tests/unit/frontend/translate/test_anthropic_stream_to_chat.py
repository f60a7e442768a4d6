"""Anthropic streams → Chat Completions client streams, under any split (translation.md §6.2)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from dario.testing import anthropic_wire
from dario.testing.splitting import split_at
from frontend.translate.anthropic_stream_to_chat import AnthropicToChatStream
from frontend.translate.sse import SseParser
from tests.unit.frontend.translate.stream_checks import TEXT, TOOLS, openai_result, run


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


def test_zero_argument_tool_reaches_openai_clients_as_empty_object() -> None:
    upstream = anthropic_wire.stream_events("m", "", None, tools=[("ping", {})]).replace(
        b'"partial_json": "{}"', b'"partial_json": ""')
    _, calls, finish, _, _ = openai_result(run(AnthropicToChatStream("m", False), [upstream]))
    assert calls == [("ping", {})] and finish == "tool_calls"


def test_anthropic_error_event_reaches_openai_clients_without_done() -> None:
    upstream = anthropic_wire.stream_events("m", TEXT, None)
    cut = upstream.index(b"event: content_block_stop")
    broken = upstream[:cut] + anthropic_wire.event("error", {"type": "error", "error": {
        "type": "overloaded_error", "message": "Overloaded"}})
    output = run(AnthropicToChatStream("m", False), [broken])
    last = SseParser().feed(output)[-1]
    assert json.loads(last.data)["error"]["message"] == "Overloaded"
    assert b"[DONE]" not in output
