"""frontend.upstream.first_token and endings (issue 16): what counts as a stream's first token in each client API,
which in-band errors before it fail over, and each API's terminal error."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dario.testing import raw_quirks
from frontend.translate.sse import SseParser
from frontend.upstream.endings import DONE, closing, terminal_error
from frontend.upstream.first_token import read_events

API = {"openai": "openai", "anthropic": "anthropic", "responses": "responses"}


@pytest.mark.parametrize("api", list(API))
def test_a_preamble_is_no_token_and_the_first_text_is_one(api: str) -> None:
    stream = raw_quirks.STREAMS[api]("Hello")
    preamble = raw_quirks.preamble(api) if api == "openai" else stream[: len(raw_quirks.preamble(api))]
    assert read_events(api, preamble) == read_events(api, b": keepalive\n\n")
    assert not read_events(api, preamble).token and read_events(api, preamble).error is None
    assert read_events(api, raw_quirks.through_first_token(api, stream)).token


@pytest.mark.parametrize(("api", "status"), [("openai", 503), ("anthropic", 529), ("responses", 500)])
def test_an_in_band_error_first_is_read_with_its_status(api: str, status: int) -> None:
    reading = read_events(api, raw_quirks.in_band_error(api))
    assert reading.error is not None and reading.error.status == status and not reading.token


@pytest.mark.parametrize("chunk", [
    {"choices": [{"index": 0, "delta": {"reasoning_content": "hmm"}, "finish_reason": None}]},
    {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"name": "f"}}]}}]},
    {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
])
def test_thinking_tool_calls_and_a_finish_are_tokens(chunk: dict) -> None:
    assert read_events("openai", f"data: {json.dumps(chunk)}\n\n".encode()).token
    assert read_events("openai", DONE).token


def test_an_anthropic_thinking_delta_is_a_token_and_an_empty_block_start_is_not() -> None:
    start = b'event: content_block_start\ndata: {"type":"content_block_start","index":0,' \
            b'"content_block":{"type":"thinking","thinking":""}}\n\n'
    delta = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,' \
            b'"delta":{"type":"thinking_delta","thinking":"let me see"}}\n\n'
    assert not read_events("anthropic", start).token and read_events("anthropic", start + delta).token


@pytest.mark.parametrize("api", list(API))
def test_each_api_ends_a_failed_stream_its_own_way(api: str) -> None:
    ending = terminal_error(api, "backend 'b' broke", "upstream_stream_broken",
                            head=b'data: {"response": {"id": "resp_abc"}}')
    events = SseParser().feed(ending)
    if api == "anthropic":
        assert [event.name for event in events] == ["error"]
    elif api == "responses":
        assert [event.name for event in events] == ["error", "response.failed"]
        assert json.loads(events[-1].data)["response"]["id"] == "resp_abc"
    else:
        assert events[-1].data == "[DONE]" and json.loads(events[0].data)["error"]["message"] == "backend 'b' broke"


def test_a_chat_stream_ending_on_an_error_chunk_gets_its_done_once() -> None:
    error = b'data: {"error": {"message": "x"}}\n\n'
    assert closing("openai", b"data: {}\n\n" + error) == DONE
    assert closing("openai", error + DONE) == b""
    assert closing("openai", b'data: {"choices": []}\n\n' + DONE) == b""
    assert closing("anthropic", error) == b""


def _read_all_events(api: str, out: bytes) -> object:
    """read_events as it was before it stopped at the first event that says: every event parsed, then read."""
    from frontend.upstream.first_token import NOTHING, _read

    parser = SseParser()
    for event in [*parser.feed(out), *parser.finish()]:
        reading = _read(api, event)
        if reading is not NOTHING:
            return reading
    return NOTHING


_EVENTS = {
    "openai": [b'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}',
               b'data: {"choices":[{"delta":{"content":"Hi"}}]}',
               b'data: {"error":{"type":"server_error","code":503,"message":"busy"}}', b": keep-alive",
               b"data: [DONE]", b"data: {broken", b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}'],
    "anthropic": [b'event: message_start\ndata: {"type":"message_start","message":{}}', b"event: ping\ndata: {}",
                  b'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"text":"Hi"}}',
                  b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"x"}}'],
    "responses": [b'event: response.created\ndata: {"type":"response.created"}',
                  b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hi"}',
                  b'event: error\ndata: {"type":"error","code":"rate_limit_exceeded","message":"x"}'],
}


@given(st.sampled_from(list(API)), st.data(), st.sampled_from([b"\n\n", b"\r\n\r\n", b"\r\r", b"\n\n\n"]),
       st.booleans())
def test_reading_an_event_at_a_time_answers_as_reading_them_all(api: str, data: st.DataObject, blank: bytes,
                                                                 cut_last: bool) -> None:
    events = data.draw(st.lists(st.sampled_from(_EVENTS[api]), max_size=8))
    out = b"".join(event.replace(b"\n", blank[: len(blank) // 2]) + blank for event in events)
    if cut_last and out:
        out = out[: -len(blank)]  # the last event without its blank line (finish() dispatches it)
    assert read_events(api, out) == _read_all_events(api, out)
