"""Fuzzing the byte-level machinery: the SSE parser, the relay's event framer, the stream translators, usage parsers.

Properties: no input raises; chunk boundaries change nothing; the client always gets valid SSE that ends the way
its SDK expects ([DONE] or an error payload for OpenAI clients, message_stop or an error event for Anthropic ones).

Why one module over 400 lines: the chunkings and event strategies are shared by every machine it fuzzes.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Callable
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dario.testing import anthropic_wire, openai_wire
from frontend.translate.anthropic_stream_to_chat import AnthropicToChatStream
from frontend.translate.chat_stream_to_anthropic import ChatToAnthropicStream
from frontend.translate.sse import MAX_LINE_BYTES, Event, SseParser
from frontend.upstream.framing import EventFramer
from frontend.usage import (
    Usage,
    anthropic_usage_from_body,
    anthropic_usage_from_stream,
    openai_usage_from_body,
    openai_usage_from_stream,
)
from tests.unit.frontend.translate.test_fuzz_translation import (
    HOSTILE_TEXT,
    JSON,
    NUMBERS,
    deep_text,
    mutated,
    obj,
    strings,
)

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Pieces that SSE parsers and JSON readers trip on, glued together in any order.
TOKENS = st.sampled_from([
    b"data: ", b"data:", b"event: ", b"event:", b"id: 1", b"retry: 5", b": comment", b"\n", b"\r\n", b"\r",
    b"\n\n", b"\r\n\r\n", b"\r\r", b" ", b"{", b"}", b"[DONE]", b"\xef\xbb\xbf", b"\xff", b"\xe2\x82", b"\xe2\x82\xac",
    b"\xf0\x9f\x9a", b'{"type":"message_start","message":{}}', b'{"type":"content_block_delta","index":0}',
    b'{"choices":[{"delta":{"content":"x"}}]}', b'{"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}',
    b'{"error":{"message":"boom"}}', b'"\\ud800"', b"\\ud800", b"[" * 3000, b"\x00",
])
SOUP = st.lists(TOKENS | st.binary(max_size=12), max_size=40).map(b"".join)
CUTS = st.lists(st.integers(min_value=0, max_value=100_000), max_size=30)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """data cut at each offset (modulo its length + 1); repeated offsets give empty pieces, which are fed too."""
    points = sorted(cut % (len(data) + 1) for cut in cuts)
    return [data[start:end] for start, end in zip([0, *points], [*points, len(data)])]


def reference_events(data: bytes) -> list[Event]:
    """What SseParser must yield for data fed at once: the whole input decoded, then split into lines."""
    lines = re.split("\r\n|\r|\n", data.decode("utf-8-sig", errors="replace"))
    lines.pop()  # cut off mid-way (or empty after the last line ending)
    events: list[Event] = []
    values: list[str] = []
    name = ""
    for line in lines + [""]:  # a last event with complete lines but no blank line is still dispatched
        if line == "":
            if values:
                events.append(Event(name, "\n".join(values)))
            name, values = "", []
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                values.append(value)
            elif field == "event":
                name = value
    return events


def parse(pieces: list[bytes]) -> list[Event]:
    parser = SseParser()
    return [event for piece in pieces for event in parser.feed(piece)] + parser.finish()


@FUZZ
@given(SOUP, CUTS)
def test_the_sse_parser_reads_any_bytes_split_anywhere_as_if_whole(data: bytes, cuts: list[int]) -> None:
    assert parse(split(data, cuts)) == reference_events(data)


@pytest.mark.timeout(20)  # the parser once scanned the whole line again per chunk: minutes for this one
@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"])
def test_regression_a_long_line_arriving_in_small_pieces_takes_linear_time(ending: bytes) -> None:
    data = b"data: " + "é".encode() * (MAX_LINE_BYTES // 4) + ending + ending
    pieces = [data[start : start + 7] for start in range(0, len(data), 7)]  # 7 bytes: splits every character
    assert parse(pieces) == [Event("", "é" * (MAX_LINE_BYTES // 4))]


def test_regression_an_empty_chunk_between_cr_and_lf_is_not_a_blank_line() -> None:
    assert parse([b"data: a\r", b"", b"\ndata: b\r\n\r\n"]) == [Event("", "a\nb")]
    assert parse([b"data: a\r", b"\n", b"\n"]) == [Event("", "a")]


def test_regression_a_leading_byte_order_mark_does_not_hide_the_first_field() -> None:
    assert parse([b"\xef\xbb", b"\xbfevent: a\ndata: 1\n\n"]) == [Event("a", "1")]
    assert parse([b"data: \xef\xbb\xbf\n\n"]) == [Event("", "\ufeff")]  # only a leading one is dropped


def test_regression_an_event_line_without_data_dispatches_nothing() -> None:
    assert parse([b"event: ping\n\nevent: message_stop\ndata: {}\n\n"]) == [Event("message_stop", "{}")]
    assert parse([b"event: ping\n"]) == []


@FUZZ
@given(SOUP, CUTS)
def test_the_framer_passes_whole_events_only_and_loses_nothing(data: bytes, cuts: list[int]) -> None:
    framer, passed = EventFramer(), b""
    for piece in split(data, cuts):
        passed += framer.feed(piece)
        parser = SseParser()
        parser.feed(passed)
        assert parser.finish() == [], "what was passed on ends between two events"
    assert passed + framer.rest() == data


# The stream translators. Ids that would be random (uuid4) and the creation time are pinned, so two runs of the
# same input can be compared byte for byte.


def run(make: Callable[[], AnthropicToChatStream | ChatToAnthropicStream], pieces: list[bytes]) -> bytes:
    numbers = itertools.count()
    with mock.patch.object(uuid, "uuid4", lambda: uuid.UUID(int=next(numbers))):
        machine = make()
        if isinstance(machine, AnthropicToChatStream):
            machine.created = 0
        out = b"".join(machine.feed(piece) for piece in pieces) + machine.finish()
        assert machine.finished
        assert machine.feed(b'data: {"choices":[{"delta":{"content":"late"}}]}\n\n') == b"", "nothing after the end"
        assert machine.finish() == b""
    return out


def openai_client_events(output: bytes) -> list[object]:
    """Checks the stream an OpenAI client gets, event by event; returns the payloads ([DONE] as a string)."""
    text = output.decode("utf-8")  # strictly UTF-8: a lone surrogate from the upstream would fail here
    assert text == "" or text.endswith("\n\n")
    payloads: list[object] = []
    for block in text.split("\n\n")[:-1]:
        if block.startswith(":"):
            assert "\n" not in block and "\r" not in block  # a keep-alive comment
            continue
        assert block.startswith("data: ") and "\n" not in block and "\r" not in block
        data = block[len("data: ") :]
        payloads.append(data if data == "[DONE]" else json.loads(data))
    assert payloads, "the client is always told how the stream ended"
    ending = payloads[-1]
    assert ending == "[DONE]" or (isinstance(ending, dict) and "error" in ending)
    for payload in payloads[:-1]:
        assert payload != "[DONE]" and "error" not in payload
        assert payload["object"] == "chat.completion.chunk"
        for choice in payload["choices"]:
            delta = choice["delta"]
            assert all(isinstance(delta[key], str) for key in ("content", "reasoning_content") if key in delta)
            for call in delta.get("tool_calls", []):
                assert isinstance(call["index"], int) and not isinstance(call["index"], bool)
    if isinstance(ending, dict):
        error = ending["error"]
        assert isinstance(error["message"], str) and error["message"] and isinstance(error["type"], str)
    return payloads


def anthropic_client_events(output: bytes) -> list[dict]:
    """Checks the stream an Anthropic client gets: named events, the grammar of §1.4, one ending."""
    text = output.decode("utf-8")
    assert text.endswith("\n\n")
    events = []
    for block in text.split("\n\n")[:-1]:
        name_line, data_line = block.split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: ") and "\r" not in block
        data = json.loads(data_line[len("data: ") :])
        assert data["type"] == name_line[len("event: ") :]
        events.append(data)
    names = [event["type"] for event in events]
    assert names and names[-1] in ("message_stop", "error")
    assert names.count("message_stop") + names.count("error") == 1
    if names[-1] == "error":
        error = events[-1]["error"]
        assert isinstance(error["message"], str) and error["message"] and isinstance(error["type"], str)
    else:
        assert names[0] == "message_start" and names[-2] == "message_delta"
    if len(events) > 1:
        assert names[0] == "message_start" and names.count("message_start") == 1
    open_index, count = None, 0
    for event in events[1:-1]:
        if event["type"] == "content_block_start":
            assert open_index is None and event["index"] == count, "one block at a time, indexes 0..n-1"
            open_index, count = event["index"], count + 1
        elif event["type"] in ("content_block_delta", "content_block_stop"):
            assert event["index"] == open_index
            if event["type"] == "content_block_stop":
                open_index = None
        else:
            assert event["type"] in ("message_delta", "ping")
            assert open_index is None or event["type"] == "ping"
    return events


# Upstream events: well-formed, then with values swapped for others of the wrong type.
ANTHROPIC_UPSTREAM_EVENT = mutated(st.one_of(
    obj({"type": st.just("message_start"), "message": obj(id=HOSTILE_TEXT, usage=obj(
        input_tokens=NUMBERS, output_tokens=NUMBERS, cache_read_input_tokens=NUMBERS))}),
    obj({"type": st.just("content_block_start"), "index": st.integers(0, 3), "content_block": obj(
        type=strings("text", "tool_use", "thinking", "redacted_thinking"), id=HOSTILE_TEXT, name=HOSTILE_TEXT,
        input=st.just({}))}),
    obj({"type": st.just("content_block_delta"), "index": st.integers(0, 3), "delta": obj(
        type=strings("text_delta", "input_json_delta", "thinking_delta", "signature_delta"), text=HOSTILE_TEXT,
        partial_json=HOSTILE_TEXT, thinking=HOSTILE_TEXT)}),
    obj({"type": st.just("content_block_stop"), "index": st.integers(0, 3)}),
    obj({"type": st.just("message_delta"), "delta": obj(stop_reason=strings("end_turn", "tool_use", "max_tokens")),
         "usage": obj(output_tokens=NUMBERS, input_tokens=NUMBERS)}),
    st.sampled_from([{"type": "ping"}, {"type": "mystery"}]),
))
ANTHROPIC_UPSTREAM_END = mutated(st.just({"type": "message_stop"}) | obj(
    {"type": st.just("error"), "error": obj(type=strings("overloaded_error", "api_error"), message=HOSTILE_TEXT)}))
OPENAI_UPSTREAM_CHUNK = mutated(obj(
    id=HOSTILE_TEXT, object=strings("chat.completion.chunk"), usage=obj(
        prompt_tokens=NUMBERS, completion_tokens=NUMBERS, prompt_tokens_details=obj(cached_tokens=NUMBERS)),
    choices=st.lists(obj(index=st.just(0), finish_reason=strings("stop", "tool_calls", "length") | st.none(),
                         delta=obj(role=strings("assistant"), content=HOSTILE_TEXT, reasoning_content=HOSTILE_TEXT,
                                   tool_calls=st.lists(obj(
                                       index=st.integers(0, 2), id=strings("call_1", "call_2"),
                                       type=strings("function"), function=obj(name=strings("get_weather", ""),
                                                                               arguments=HOSTILE_TEXT)),
                                       max_size=2))), min_size=1, max_size=2)))
OPENAI_UPSTREAM_ERROR = mutated(obj({"error": obj(message=HOSTILE_TEXT, code=st.sampled_from([429, 500, "x"]))}))
ENDINGS = st.sampled_from([b"\n", b"\r\n", b"\r"])


def anthropic_upstream(events: list[object], ending: bytes) -> bytes:
    """Named events; a name that is not text (a mutated type) is written as JSON, a lone surrogate as is."""
    def name(event: object) -> str:
        kind = event.get("type") if isinstance(event, dict) else None
        return kind if isinstance(kind, str) else json.dumps(kind)

    return b"".join(f"event: {name(event)}\ndata: ".encode("utf-8", "surrogatepass") + json.dumps(event).encode()
                    + b"\n\n" for event in events).replace(b"\n", ending)


def openai_upstream(chunks: list[object], ending: bytes) -> bytes:
    return b"".join(b"data: " + (b"[DONE]" if chunk == "[DONE]" else json.dumps(chunk).encode()) + b"\n\n"
                    for chunk in chunks).replace(b"\n", ending)


def to_openai() -> AnthropicToChatStream:
    return AnthropicToChatStream("claude-opus-5", include_usage=True, include_reasoning=True)


def to_anthropic() -> ChatToAnthropicStream:
    return ChatToAnthropicStream("gpt-4o")


@FUZZ
@given(SOUP, CUTS)
def test_any_bytes_from_an_anthropic_upstream_end_a_valid_openai_stream(data: bytes, cuts: list[int]) -> None:
    output = run(to_openai, split(data, cuts))
    openai_client_events(output)
    assert output == run(to_openai, [data])


@FUZZ
@given(SOUP, CUTS)
def test_any_bytes_from_an_openai_upstream_end_a_valid_anthropic_stream(data: bytes, cuts: list[int]) -> None:
    output = run(to_anthropic, split(data, cuts))
    anthropic_client_events(output)
    assert output == run(to_anthropic, [data])


@FUZZ
@given(st.lists(ANTHROPIC_UPSTREAM_EVENT, max_size=12) | st.lists(ANTHROPIC_UPSTREAM_EVENT | ANTHROPIC_UPSTREAM_END,
                                                                  max_size=12), ENDINGS, CUTS)
def test_hostile_anthropic_events_end_a_valid_openai_stream(events: list, ending: bytes, cuts: list[int]) -> None:
    data = anthropic_upstream(events, ending)
    output = run(to_openai, split(data, cuts))
    openai_client_events(output)
    assert output == run(to_openai, [data])


@FUZZ
@given(st.lists(OPENAI_UPSTREAM_CHUNK, max_size=12) | st.lists(
    OPENAI_UPSTREAM_CHUNK | OPENAI_UPSTREAM_ERROR | st.just("[DONE]") | JSON, max_size=12), ENDINGS, CUTS)
def test_hostile_openai_chunks_end_a_valid_anthropic_stream(chunks: list, ending: bytes, cuts: list[int]) -> None:
    data = openai_upstream(chunks, ending)
    output = run(to_anthropic, split(data, cuts))
    anthropic_client_events(output)
    assert output == run(to_anthropic, [data])


TOOLS = st.lists(st.tuples(st.sampled_from(["get_weather", "noop", "ünï"]),
                           st.dictionaries(st.text(max_size=5), JSON, max_size=3)), max_size=3)
TEXT = st.text(max_size=40)


@FUZZ
@given(TEXT, TOOLS, st.integers(1, 8), st.integers(0, 10**6), CUTS)
def test_valid_anthropic_streams_translate_the_same_however_split(
    content: str, tools: list, piece: int, tokens: int, cuts: list[int]
) -> None:
    data = anthropic_wire.stream_events("m", content, anthropic_wire.usage(tokens, 7), piece=piece, tools=tools)
    output = run(to_openai, split(data, cuts))
    assert openai_client_events(output)[-1] == "[DONE]"
    assert output == run(to_openai, [data])


@FUZZ
@given(TEXT, TOOLS, st.integers(1, 8), st.booleans(), CUTS)
def test_valid_openai_streams_translate_the_same_however_split(
    content: str, tools: list, piece: int, include_usage: bool, cuts: list[int]
) -> None:
    data = openai_wire.stream_events("g", content, openai_wire.usage(30, 7, cached=4), include_usage, piece=piece,
                                     tools=tools)
    output = run(to_anthropic, split(data, cuts))
    assert anthropic_client_events(output)[-1]["type"] == "message_stop"
    assert output == run(to_anthropic, [data])


def test_regression_a_lone_surrogate_from_the_upstream_stays_escaped() -> None:
    text_delta = b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a\\ud800"}}'
    stop = b"event: content_block_stop"
    data = anthropic_wire.stream_events("m", "hi", None).replace(
        stop, b"event: content_block_delta\ndata: " + text_delta + b"\n\n" + stop, 1)
    payloads = openai_client_events(run(to_openai, [data]))
    assert "a\ud800" in [choice["delta"].get("content") for payload in payloads[:-1] for choice in payload["choices"]]
    chunk = b'data: {"choices":[{"index":0,"delta":{"content":"\\udfff"}}]}\n\ndata: [DONE]\n\n'
    events = anthropic_client_events(run(to_anthropic, [chunk]))
    assert any(event.get("delta", {}).get("text") == "\udfff" for event in events)


def test_regression_a_line_past_the_limit_ends_the_stream_with_an_error_event() -> None:
    line = b"data: " + b"x" * (MAX_LINE_BYTES + 1)
    assert b"longer than" in openai_client_events(run(to_openai, [line]))[-1]["error"]["message"].encode()
    assert "longer than" in anthropic_client_events(run(to_anthropic, [line]))[-1]["error"]["message"]


def test_regression_events_nested_too_deeply_are_not_json_to_the_translators() -> None:
    nested = b"data: " + deep_text(100_000).encode() + b"\n\n"
    assert openai_client_events(run(to_openai, [nested]))[-1]["error"]["message"].endswith("not JSON")
    assert anthropic_client_events(run(to_anthropic, [nested]))[-1]["error"]["message"].endswith("not JSON")


def test_regression_fields_of_the_wrong_type_are_ignored_not_fatal() -> None:
    anthropic_events = [{"type": "message_start", "message": "m"}, {"type": "content_block_start", "index": [0]},
                        {"type": "content_block_delta", "index": {}, "delta": "d"},
                        {"type": "content_block_stop", "index": [1]},
                        {"type": "message_delta", "delta": [], "usage": 5}, {"type": ["x"]}, {"type": "message_stop"}]
    assert openai_client_events(run(to_openai, [anthropic_upstream(anthropic_events, b"\n")]))[-1] == "[DONE]"
    openai_chunks = [{"choices": 5}, {"choices": [{"delta": "d"}]}, {"choices": [{"delta": {"tool_calls": 5}}]},
                     {"choices": [{"delta": {"tool_calls": [{"id": ["x"], "function": {"name": 5}}]}}]},
                     {"choices": [{"delta": {}, "finish_reason": ["stop"]}]},
                     {"usage": {"prompt_tokens_details": 5}},
                     {"choices": [{"delta": {}, "finish_reason": "stop"}]}, "[DONE]"]  # (without it: a cut, issue 16)
    assert anthropic_client_events(run(to_anthropic, [openai_upstream(openai_chunks, b"\n")]))[-1]["type"] == (
        "message_stop")


# Usage parsers (frontend/usage.py): whatever the upstream sent, a Usage and no exception.

USAGE_DOCUMENTS = st.one_of(
    JSON.map(json.dumps),
    mutated(obj(model=HOSTILE_TEXT, usage=obj(
        prompt_tokens=NUMBERS, completion_tokens=NUMBERS, input_tokens=NUMBERS, output_tokens=NUMBERS,
        cache_read_input_tokens=NUMBERS, prompt_tokens_details=obj(cached_tokens=NUMBERS),
        completion_tokens_details=obj(reasoning_tokens=NUMBERS)))).map(json.dumps),
    st.integers(1, 50_000).map(lambda depth: '{"usage": ' + deep_text(depth) + "}"),
)
USAGE_STREAM = st.lists(USAGE_DOCUMENTS.map(lambda text: b"data: " + text.encode() + b"\n\n") | SOUP,
                        max_size=8).map(b"".join)


def assert_usage(usage: Usage) -> None:
    assert isinstance(usage.served_model, str)
    for value in (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.reasoning_tokens,
                  usage.cache_write_tokens):
        assert isinstance(value, int) and not isinstance(value, bool) and value >= -1


@FUZZ
@given(USAGE_DOCUMENTS.map(str.encode) | SOUP | st.binary(max_size=64), USAGE_STREAM, USAGE_STREAM)
def test_usage_parsers_never_raise(body: bytes, head: bytes, tail: bytes) -> None:
    assert_usage(openai_usage_from_body(body))
    assert_usage(anthropic_usage_from_body(body))
    assert_usage(openai_usage_from_stream(head, tail))
    assert_usage(anthropic_usage_from_stream(head, tail))


def test_regression_a_usage_line_nested_too_deeply_gives_no_usage() -> None:
    line = b'data: {"type": "message_delta", "usage": ' + deep_text(50_000).encode() + b"}\n\n"
    assert openai_usage_from_stream(b"", line).input_tokens == -1
    assert anthropic_usage_from_stream(line, line).output_tokens == -1
    assert openai_usage_from_body(deep_text(50_000).encode()).input_tokens == -1
