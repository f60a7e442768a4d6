"""How translated streams end when the upstream's does not end as an answer (issue 16): a [DONE] or the end of the
body without a finish_reason is a cut, an in-band error keeps its type, a repeated function name is one name;
each under every split, and each says what the record gets."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from dario.testing import chat_quirks, openai_wire
from dario.testing.splitting import split_at
from frontend.translate.chat_stream_to_anthropic import ChatToAnthropicStream
from frontend.translate.responses.chat_stream import ChatToResponsesStream
from frontend.translate.sse import SseParser
from tests.unit.frontend.translate.responses.checks import checked_events
from tests.unit.frontend.translate.stream_checks import TEXT, TOOLS, anthropic_result, run

CONTEXT_ERROR = {"message": "This model's maximum context length is 8192 tokens.", "type": "invalid_request_error",
                 "param": "messages", "code": "context_length_exceeded"}
LLAMA_CPP_CONTEXT_ERROR = {"code": 400, "message": "the request exceeds the available context size",
                           "type": "exceed_context_size_error"}
REQUEST = {"model": "m", "messages": [{"role": "user", "content": "What is the weather in Paris today?"}]}


def anthropic_events(output: bytes) -> list[dict]:
    return [json.loads(event.data) for event in SseParser().feed(output)]


def splits(upstream: bytes, cuts: list[int]) -> list[list[bytes]]:
    """The stream whole, at one byte a piece, and cut where hypothesis says."""
    return [[upstream], [upstream[offset:offset + 1] for offset in range(len(upstream))], split_at(upstream, cuts)]


CUTS = st.lists(st.integers(min_value=0, max_value=10_000), max_size=30)


@settings(max_examples=30, deadline=None)
@given(CUTS)
def test_done_without_finish_reason_is_a_cut_for_anthropic_clients(cuts: list[int]) -> None:
    upstream = chat_quirks.without_finish_reason(openai_wire.stream_events("g", TEXT, None, include_usage=False))
    for pieces in splits(upstream, cuts):
        machine = ChatToAnthropicStream("g", request=REQUEST)
        events = anthropic_events(run(machine, pieces))
        assert events[-1]["type"] == "error" and "cut off" in events[-1]["error"]["message"]
        assert "message_stop" not in [event["type"] for event in events]
        assert machine.failure == (502, "upstream_stream_broken") and not machine.delivered


@settings(max_examples=30, deadline=None)
@given(CUTS)
def test_done_without_finish_reason_is_a_failed_response_for_responses_clients(cuts: list[int]) -> None:
    upstream = chat_quirks.without_finish_reason(openai_wire.stream_events("g", TEXT, None, include_usage=False))
    for pieces in splits(upstream, cuts):
        machine = ChatToResponsesStream("g", {"input": "x"}, request=REQUEST)
        events = checked_events(run(machine, pieces))
        assert events[-1].type == "response.failed" and "cut off" in events[-1].response.error.message
        assert machine.failure == (502, "upstream_stream_broken")


def test_the_end_of_the_body_without_finish_reason_is_a_cut_too() -> None:
    upstream = chat_quirks.without_finish_reason(openai_wire.stream_events("g", TEXT, None, include_usage=False))
    machine = ChatToAnthropicStream("g")
    events = anthropic_events(run(machine, [upstream.replace(b"data: [DONE]\n\n", b"")]))
    assert events[-1]["type"] == "error" and machine.failure == (502, "upstream_stream_broken")


def test_a_whole_stream_is_delivered_and_records_no_failure() -> None:
    machine = ChatToAnthropicStream("g")
    anthropic_result(run(machine, [openai_wire.stream_events("g", TEXT, None, include_usage=False)]))
    assert machine.delivered and machine.failure is None


@settings(max_examples=20, deadline=None)
@given(CUTS)
def test_an_in_band_context_overflow_reaches_anthropic_clients_as_invalid_request(cuts: list[int]) -> None:
    for error in (CONTEXT_ERROR, LLAMA_CPP_CONTEXT_ERROR):
        upstream = chat_quirks.error_after(3, error)(openai_wire.stream_events("g", TEXT, None, include_usage=False))
        for pieces in splits(upstream, cuts):
            machine = ChatToAnthropicStream("g")
            events = anthropic_events(run(machine, pieces))
            assert events[-1]["type"] == "error"
            assert events[-1]["error"]["type"] == "invalid_request_error"
            assert events[-1]["error"]["message"].startswith("prompt is too long: ")  # Claude Code compacts on it
            assert machine.failure == (400, "upstream_error")


def test_in_band_errors_keep_their_type_for_anthropic_clients() -> None:
    cases = [({"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}, "rate_limit_error", 429),
             ({"message": "quota", "type": "insufficient_quota", "code": "insufficient_quota"}, "billing_error", 402),
             ({"message": "boom", "type": "server_error", "code": None}, "api_error", 500),
             ({"message": "busy", "code": 503}, "overloaded_error", 503),
             ({"message": "no such model", "type": "invalid_request_error", "code": "model_not_found"},
              "not_found_error", 404)]
    for error, expected, status in cases:
        upstream = chat_quirks.error_after(2, error)(openai_wire.stream_events("g", TEXT, None, include_usage=False))
        machine = ChatToAnthropicStream("g")
        events = anthropic_events(run(machine, [upstream]))
        assert (events[-1]["error"]["type"], machine.failure) == (expected, (status, "upstream_error")), error


def test_an_in_band_context_overflow_reaches_responses_clients_with_its_code() -> None:
    """Codex compacts on response.failed with code context_length_exceeded, a code the SDK's type does not list
    (the SDK reads events without validating them), so these events are read as JSON."""
    for error in (CONTEXT_ERROR, LLAMA_CPP_CONTEXT_ERROR):
        upstream = chat_quirks.error_after(3, error)(openai_wire.stream_events("g", TEXT, None, include_usage=False))
        machine = ChatToResponsesStream("g", {"input": "x"})
        events = [json.loads(event.data) for event in SseParser().feed(run(machine, [upstream]))]
        assert [event["type"] for event in events[-2:]] == ["error", "response.failed"]
        failed = events[-1]["response"]
        assert events[-2]["code"] == failed["error"]["code"] == "context_length_exceeded"
        assert failed["error"]["type"] == error["type"] and failed["status"] == "failed"
        assert machine.failure == (400, "upstream_error")


@settings(max_examples=30, deadline=None)
@given(CUTS, st.integers(min_value=1, max_value=3))
def test_a_function_name_repeated_in_every_delta_is_one_name(cuts: list[int], count: int) -> None:
    tools = TOOLS[:count]
    upstream = chat_quirks.function_name_in_every_delta(
        openai_wire.stream_events("g", "", None, include_usage=False, tools=tools))
    assert upstream.count(b'"get_weather"') > 2  # the quirk is there
    for pieces in splits(upstream, cuts):
        _, calls, stop, _ = anthropic_result(run(ChatToAnthropicStream("g"), pieces))
        assert calls == tools and stop == "tool_use"
        events = checked_events(run(ChatToResponsesStream("g", {"input": "x"}), pieces))
        done = [event.item for event in events if event.type == "response.output_item.done"]
        assert [(item.name, json.loads(item.arguments)) for item in done] == tools
