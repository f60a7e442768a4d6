"""The stream machines' common protocol that the relay loop drives (feed / finish / fail, progress, usage), for
the identity machine of the native path and every translating one."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dario.testing import anthropic_wire, openai_wire
from dario.testing.splitting import split_at
from frontend.dialects import ANTHROPIC_MESSAGES, OPENAI_CHAT, Dialect
from frontend.translate.anthropic_stream_to_chat import AnthropicToChatStream
from frontend.translate.chat_stream_to_anthropic import ChatToAnthropicStream
from frontend.translate.responses.anthropic_stream import AnthropicToResponsesStream
from frontend.translate.responses.chat_stream import ChatToResponsesStream
from frontend.translate.sse import SseParser
from frontend.upstream.framing import HEAD_BYTES, TAIL_BYTES
from frontend.upstream.relay import PassThrough, StreamMachine

CHAT_STREAM = openai_wire.stream_events("gpt-4o-2024-08-06", "héllo ☃", openai_wire.usage(12, 5, cached=3), True)
ANTHROPIC_STREAM = anthropic_wire.stream_events("claude-opus-5-20260101", "héllo ☃",
                                                anthropic_wire.usage(30, 9, cache_read=4, cache_creation=2))


def machines() -> list[tuple[str, StreamMachine, Dialect, bytes]]:
    """(name, machine, the upstream's dialect, an upstream stream) for every direction the relay runs."""
    request = {"model": "m", "input": "hi"}
    return [
        ("pass-through chat", PassThrough(OPENAI_CHAT, events=True), OPENAI_CHAT, CHAT_STREAM),
        ("pass-through anthropic", PassThrough(ANTHROPIC_MESSAGES, events=True), ANTHROPIC_MESSAGES,
         ANTHROPIC_STREAM),
        ("chat→anthropic", ChatToAnthropicStream("m"), OPENAI_CHAT, CHAT_STREAM),
        ("anthropic→chat", AnthropicToChatStream("m", include_usage=True), ANTHROPIC_MESSAGES, ANTHROPIC_STREAM),
        ("chat→responses", ChatToResponsesStream("m", request), OPENAI_CHAT, CHAT_STREAM),
        ("anthropic→responses", AnthropicToResponsesStream("m", request), ANTHROPIC_MESSAGES, ANTHROPIC_STREAM),
    ]


NAMES = [name for name, *_ in machines()]


def machine_named(name: str) -> tuple[StreamMachine, Dialect, bytes]:
    return next((machine, dialect, stream) for found, machine, dialect, stream in machines() if found == name)


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(NAMES), cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=30))
def test_usage_comes_from_the_machine_and_equals_the_samples_of_the_stream(name: str, cuts: list[int]) -> None:
    machine, dialect, stream = machine_named(name)
    for piece in split_at(stream, cuts):
        machine.feed(piece)
    machine.finish()
    assert machine.delivered and machine.finished
    assert machine.upstream_usage() == dialect.usage_from_stream(stream[:HEAD_BYTES], stream[-TAIL_BYTES:])
    assert machine.upstream_usage().input_tokens > 0 and machine.upstream_usage().served_model


@pytest.mark.parametrize("name", NAMES)
def test_keepalives_do_not_move_progress_and_events_do(name: str) -> None:
    machine, dialect, stream = machine_named(name)
    first = stream[: stream.index(b"\n\n") + 2]
    machine.feed(first)
    progress = machine.progress
    assert progress >= 1
    keepalive = b'event: ping\ndata: {"type": "ping"}\n\n' if dialect is ANTHROPIC_MESSAGES else b": keepalive\n\n"
    for _ in range(3):
        machine.feed(keepalive)
    assert machine.progress == progress
    machine.feed(stream[len(first):])
    assert machine.progress > progress


@pytest.mark.parametrize("name", NAMES)
def test_fail_ends_the_stream_with_the_client_api_terminal_error(name: str) -> None:
    machine, _, stream = machine_named(name)
    machine.feed(stream[: stream.index(b"\n\n") + 2])
    ending = machine.fail("backend 'b' stalled", "upstream_stalled")
    assert machine.finished
    events = SseParser().feed(ending)
    if events[-1].data == "[DONE]":  # the pass-through Chat ending; the relay adds it after a machine's (issue 16)
        assert name == "pass-through chat" and ending.count(b"[DONE]") == 1
        events = events[:-1]
    last = json.loads(events[-1].data)
    if "anthropic" in name.split("→")[-1] or name == "pass-through anthropic":
        assert events[-1].name == "error" and last["error"]["message"] == "backend 'b' stalled"
    elif name.endswith("responses"):
        assert [event.name for event in events[-2:]] == ["error", "response.failed"]
        assert last["response"]["error"]["message"] == "backend 'b' stalled"
    else:
        assert last["error"]["code"] == "upstream_stalled"
    assert machine.fail("again", "x") == b"" or name.startswith("pass-through")


@pytest.mark.parametrize("name", ["chat→anthropic", "chat→responses"])
def test_a_failure_after_the_upstream_said_it_was_done_completes_the_answer(name: str) -> None:
    machine, _, stream = machine_named(name)
    machine.feed(stream[: stream.index(b"data: [DONE]")])  # finish_reason "stop" and usage, then silence
    ending = machine.fail("stalled", "upstream_stalled")
    assert machine.delivered and (b"event: message_stop" in ending or b"event: response.completed" in ending)
    assert b"event: error" not in ending and b"response.failed" not in ending
