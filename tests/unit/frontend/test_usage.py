"""Usage read from Anthropic bodies and streams: message_start's counts overwritten by message_delta's totals."""

import json

from frontend.usage import anthropic_usage_from_body, anthropic_usage_from_stream
from tests.support import anthropic_wire


def test_anthropic_body_usage_keeps_cache_reads_apart() -> None:
    body = anthropic_wire.message("claude-opus-5", "hi", anthropic_wire.usage(10, 5, cache_read=100))
    usage = anthropic_usage_from_body(json.dumps(body).encode())
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (10, 5, 100)
    assert usage.served_model == "claude-opus-5"


def test_stream_usage_comes_from_the_head_and_the_tail() -> None:
    stream = anthropic_wire.stream_events("claude-opus-5", "x" * 50_000, anthropic_wire.usage(42, 777, cache_read=9))
    head, tail = stream[:16 * 1024], stream[-64 * 1024:]
    assert b"message_start" not in tail  # the stream is longer than the tail kept
    usage = anthropic_usage_from_stream(head, tail)
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (42, 777, 9)


def test_message_delta_input_tokens_overwrite_the_start() -> None:
    start = anthropic_wire.event("message_start", {"type": "message_start", "message": anthropic_wire.message(
        "m", "", anthropic_wire.usage(1, 1))})
    delta = anthropic_wire.event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                                    "usage": {"output_tokens": 30, "input_tokens": 50}})
    usage = anthropic_usage_from_stream(start, start + delta)
    assert (usage.input_tokens, usage.output_tokens) == (50, 30)


def test_broken_or_missing_usage_gives_minus_one() -> None:
    for head, tail in ((b"", b""), (b"data: {nope\n\n", b"event: ping\ndata: {}\n\n"), (b"\xff\xfe", b"\xff")):
        usage = anthropic_usage_from_stream(head, tail)
        assert usage.input_tokens == -1 and usage.output_tokens == -1
    assert anthropic_usage_from_body(b"<html>").output_tokens == -1
