"""Usage read from upstream bodies and streams: Chat usage from the last chunk carrying one, Anthropic's from
message_start overwritten by message_delta's totals."""

import json

from hypothesis import given
from hypothesis import strategies as st

from dario.testing import anthropic_wire
from frontend.usage import anthropic_usage_from_body, anthropic_usage_from_stream, openai_usage_from_stream
from frontend.usage import openai_usage_from_body as usage_from_json_body


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


def usage_from_sse_tail(tail: bytes):
    return openai_usage_from_stream(b"", tail)


EVENTS = [
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n',
    'data: {"choices":[{"index":0,"delta":{"content":"h\u00e9llo \u2603 \U0001f680"}}]}\n\n'.encode(),
    b'data: {"choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}\n\n',
    b"data: [DONE]\n\n",
]
STREAM = b"".join(EVENTS)


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


def test_a_stream_without_usage_still_names_the_model_served() -> None:
    """Issue 16 item 2: a stream records the served model as a whole body does, usage or not."""
    from dario.testing import openai_wire
    from frontend.usage import responses_usage_from_stream

    stream = openai_wire.stream_events("gpt-4o-2024-08-06", "hi", None, include_usage=False)
    usage = openai_usage_from_stream(stream[:300], stream[-300:])
    assert (usage.served_model, usage.input_tokens) == ("gpt-4o-2024-08-06", -1)
    anthropic_stream = anthropic_wire.stream_events("claude-sonnet-4-5-20250929", "hi", None).replace(
        b'"usage": {', b'"no_usage": {')
    assert anthropic_usage_from_stream(anthropic_stream, anthropic_stream).served_model == "claude-sonnet-4-5-20250929"
    completed = b'event: response.completed\ndata: {"type": "response.completed", "response": {"model": "gpt-5", ' \
                b'"usage": null}}\n\n'
    assert responses_usage_from_stream(completed, completed).served_model == "gpt-5"


def _reference_openai_usage(head: bytes, tail: bytes) -> object:
    """What openai_usage_from_stream answered when it split the samples into lines (before issue 13's search by
    bytes.rfind): the newest `data:` line holding a usage, else the served model of the head's first chunk."""
    from frontend.usage import NO_USAGE, _named, usage_from_openai

    def parsed(line: str) -> object:
        try:
            return json.loads(line[5:].strip())
        except ValueError:
            return None

    for line in reversed(tail.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n").split("\n")):
        if line.startswith("data:") and '"usage"' in line:
            usage = usage_from_openai(parsed(line))
            if usage is not None:
                return usage
    for line in head.decode("utf-8", "replace").replace("\r", "\n").split("\n"):
        if line.startswith("data:") and '"model"' in line:
            document = parsed(line)
            model = document.get("model") if isinstance(document, dict) else None
            if isinstance(model, str) and model:
                return _named(NO_USAGE, model)
    return NO_USAGE


@given(st.lists(st.sampled_from([
    b'data: {"model":"gpt-x","choices":[{"delta":{"content":"hi"}}],"usage":null}',
    b'data: {"model":"gpt-y","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}',
    b'data: {"choices":[],"usage": {"prompt_tokens":5,"completion_tokens":6}}',
    b'data: {"choices":[{"delta":{"content":"say \\"usage\\":null"}}],"usage": null}',
    b'data: {"usage":{"prompt_tokens":7}, "note": "\\"usage\\":null"}',
    b'data: {"choices":[{"delta":{"content":"\xff"}}],"usage":{"prompt_tokens":9}}',
    b'data: not json "usage"', b': keep-alive "usage"', b'event: x "model"', b'data: [DONE]', b'',
]), max_size=12), st.sampled_from([b"\n", b"\r\n", b"\r", b"\n\n"]), st.integers(0, 40))
def test_stream_usage_by_search_answers_as_the_line_split_did(lines: list[bytes], separator: bytes,
                                                               cut: int) -> None:
    sample = separator.join(lines)
    tail = sample[cut:]  # a tail may start inside a line
    assert openai_usage_from_stream(sample, tail) == _reference_openai_usage(sample, tail)
