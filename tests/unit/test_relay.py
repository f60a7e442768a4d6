"""SSE framing and usage extraction used when relaying upstream bodies unchanged."""

import json

from hypothesis import given
from hypothesis import strategies as st

from frontend.relay import TAIL_BYTES, EventFramer, Tail
from frontend.usage import openai_usage_from_body as usage_from_json_body
from frontend.usage import openai_usage_from_stream
from tests.support.splitting import split_at


def usage_from_sse_tail(tail: bytes):
    return openai_usage_from_stream(b"", tail)

EVENTS = [
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n',
    'data: {"choices":[{"index":0,"delta":{"content":"h\u00e9llo \u2603 \U0001f680"}}]}\n\n'.encode(),
    b'data: {"choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}\n\n',
    b"data: [DONE]\n\n",
]
STREAM = b"".join(EVENTS)


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_framer_passes_only_whole_events_and_loses_nothing(cuts: list[int]) -> None:
    framer = EventFramer()
    passed = []
    for piece in split_at(STREAM, cuts):
        out = framer.feed(piece)
        if out:
            assert out.endswith(b"\n\n")
            passed.append(out)
    assert framer.rest() == b""
    assert b"".join(passed) == STREAM


def test_framer_holds_a_partial_event_until_it_completes() -> None:
    framer = EventFramer()
    assert framer.feed(b'data: {"a":') == b""
    assert framer.feed(b"1}\n") == b""
    assert framer.feed(b"\n") == b'data: {"a":1}\n\n'


def test_framer_understands_crlf_events() -> None:
    framer = EventFramer()
    assert framer.feed(b"data: x\r\n\r\ndata: y") == b"data: x\r\n\r\n"
    assert framer.rest() == b"data: y"


def test_framer_never_holds_more_than_its_cap() -> None:
    framer = EventFramer()
    huge = b"data: " + b"x" * (2 * 1024 * 1024)
    assert framer.feed(huge) == huge


def test_usage_is_read_from_the_stream_tail() -> None:
    usage = usage_from_sse_tail(STREAM)
    assert (usage.input_tokens, usage.output_tokens) == (11, 7)


def test_stream_without_usage_reports_minus_one() -> None:
    usage = usage_from_sse_tail(b"".join(EVENTS[:2]) + EVENTS[3])
    assert usage.input_tokens == -1 and usage.output_tokens == -1


def test_usage_with_cache_and_reasoning_details_from_a_whole_body() -> None:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [],
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": 50,
            "prompt_tokens_details": {"cached_tokens": 64},
            "completion_tokens_details": {"reasoning_tokens": 20},
        },
    }
    usage = usage_from_json_body(json.dumps(body).encode())
    counts = (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.reasoning_tokens)
    assert counts == (100, 50, 64, 20)
    assert usage.served_model == "gpt-4o-mini-2024-07-18"


def test_garbage_bodies_give_no_usage_and_no_exception() -> None:
    for body in (b"", b"<html>502</html>", b'{"usage": "lots"}', b"[1,2]", b'{"usage":{"prompt_tokens":-3}}'):
        assert usage_from_json_body(body).input_tokens == -1
    assert usage_from_sse_tail(b"data: {broken\n\ndata: [DONE]\n\n").input_tokens == -1


def test_tail_keeps_the_last_bytes_only() -> None:
    tail = Tail()
    for _ in range(100):
        tail.add(b"x" * 4096)
    tail.add(b"END")
    value = tail.value()
    assert len(value) == TAIL_BYTES and value.endswith(b"END")
    assert tail.size < TAIL_BYTES + 8192
