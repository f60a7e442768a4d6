"""Chat Completions streams → Responses streams, checked against the openai SDK's event types and its stream
accumulator: any split, failures, cut-off answers, parallel and late-named tool calls."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.responses import Response

from dario.testing import anthropic_wire, openai_wire
from dario.testing.splitting import split_at
from frontend.translate.responses.answer import chat_to_response
from frontend.translate.responses.anthropic_stream import AnthropicToResponsesStream
from frontend.translate.responses.chat_stream import ChatToResponsesStream
from frontend.upstream.relay import StreamMachine
from tests.unit.frontend.translate.responses.checks import (
    CODEX,
    CODEX_CALLS,
    REQUEST,
    check_codex_calls,
    check_grammar,
    checked_events,
    comparable,
    sdk_stream,
)
from tests.unit.frontend.translate.stream_checks import TEXT, TOOLS, run


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


def test_a_stream_cut_short_fails_and_one_missing_only_done_completes() -> None:
    upstream = openai_wire.stream_events("g", TEXT, None, include_usage=False, tools=TOOLS[:1])
    events = checked_events(run(ChatToResponsesStream("alias", {"input": "x"}), [upstream[: len(upstream) // 3]]))
    assert events[-1].type == "response.failed" and "cut off" in events[-1].response.error.message
    events = checked_events(run(ChatToResponsesStream("alias", {"input": "x"}),
                                [upstream.replace(b"data: [DONE]\n\n", b"")]))
    assert events[-1].type == "response.completed"
    assert events[-1].response.usage.output_tokens > 0  # the upstream sent none: estimated (issue 16)


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


@pytest.mark.parametrize("backend", ["chat", "anthropic"])
@pytest.mark.parametrize("one_byte", [False, True])
def test_codex_calls_map_back_streamed(backend: str, one_byte: bool) -> None:
    if backend == "chat":
        upstream = openai_wire.stream_events("g", "On it.", openai_wire.usage(5, 6), include_usage=True,
                                             tools=CODEX_CALLS)
        machine: StreamMachine = ChatToResponsesStream("alias", CODEX)
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
