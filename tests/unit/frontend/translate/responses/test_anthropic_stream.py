"""Anthropic streams → Responses streams (through Chat), checked against the openai SDK."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.responses import Response

from dario.testing import anthropic_wire
from dario.testing.splitting import split_at
from frontend.translate.responses.answer import anthropic_to_response
from frontend.translate.responses.anthropic_stream import AnthropicToResponsesStream
from tests.unit.frontend.translate.responses.checks import (
    REQUEST,
    check_grammar,
    checked_events,
    comparable,
    sdk_stream,
)
from tests.unit.frontend.translate.stream_checks import TEXT, TOOLS, run


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


def test_anthropic_overload_mid_stream_fails_the_response() -> None:
    upstream = anthropic_wire.stream_events("m", TEXT, None)
    cut = upstream.index(b"event: content_block_stop")
    broken = upstream[:cut] + anthropic_wire.event("error", {"type": "error", "error": {
        "type": "overloaded_error", "message": "Overloaded"}})
    events = checked_events(run(AnthropicToResponsesStream("alias", {"input": "x"}), [broken]))
    assert [event.type for event in events[-2:]] == ["error", "response.failed"]
    assert events[-1].response.error.code == "server_error" and events[-1].response.error.message == "Overloaded"
