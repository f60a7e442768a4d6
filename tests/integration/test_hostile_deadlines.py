"""Upstreams that never finish (architecture.md, Security). The first-token, stall and total deadlines of [limits],
set small in the test's config.toml, end each answer in the client's API format, and analytics records why. Every
stream here sends its first token at once (CHAT_TEXT, ANTHROPIC_TEXT): before it, the client has no byte, and a
failure is an error answer (tests/integration/test_failover_before_first_byte.py)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from dario.testing import anthropic_wire, openai_wire
from dario.testing.hostile import HostileBody, request_body
from dario.testing.scripted_upstream import Script, ScriptedUpstream
from dario.testing.stack import Services, both_kinds, running_frontend, wait_for_backends, write_limits
from frontend.translate.sse import SseParser
from tests.integration.conftest import async_analytics_rows

pytestmark = pytest.mark.timeout(120)
FIRST_BYTE, STALL, TOTAL = 2.0, 1.0, 5.0
GENEROUS = 10.0  # an answer cut by a deadline ends well within this many seconds past it

CHAT_START = openai_wire.sse({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [
    {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
CHAT_TEXT = openai_wire.sse({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [
    {"index": 0, "delta": {"content": "x"}, "finish_reason": None}]})
ANTHROPIC_START = (anthropic_wire.event("message_start", {"type": "message_start", "message": dict(
    anthropic_wire.message("m", "", None), stop_reason=None)}) + anthropic_wire.event(
    "content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}))
ANTHROPIC_TEXT = anthropic_wire.event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                              "delta": {"type": "text_delta", "text": "x"}})
ANTHROPIC_PING = b'event: ping\ndata: {"type": "ping"}\n\n'


def stream(start: bytes, filler: bytes, piece: int | None = None, delay: float = 0.1) -> HostileBody:
    """An event stream that begins with `start`, then sends `filler` (`piece` bytes at a time) forever."""
    return HostileBody(head=start, filler=filler, endless=True, piece=piece or len(filler), delay=delay,
                       content_type="text/event-stream")


# (client path, model, what the upstream sends, the error type expected)
CHAT_FIRST, ANTHROPIC_FIRST = CHAT_START + CHAT_TEXT, ANTHROPIC_START + ANTHROPIC_TEXT
KEEPALIVES_ONLY = [
    ("/v1/chat/completions", "gpt-4o", stream(CHAT_FIRST, b": keepalive\n\n")),
    ("/v1/messages", "claude-slow", stream(ANTHROPIC_FIRST, ANTHROPIC_PING)),
    ("/v1/messages", "gpt-4o", stream(CHAT_FIRST, b": keepalive\n\n")),
    ("/v1/chat/completions", "claude-slow", stream(ANTHROPIC_FIRST, ANTHROPIC_PING)),
    ("/v1/responses", "gpt-4o", stream(CHAT_FIRST, b": keepalive\n\n")),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, upstream: ScriptedUpstream) -> Iterator[Services]:
    home = tmp_path_factory.mktemp("deadlines") / "home"
    write_limits(home, upstream_first_byte_seconds=FIRST_BYTE, upstream_stall_seconds=STALL,
                 upstream_total_seconds=TOTAL)
    with both_kinds(home, upstream.base_url, "test-key-openai-deadline-0123456789",
                    "test-key-anthropic-deadline-0123") as started:
        assert started.config.limits.upstream.stall_seconds == STALL
        yield started


@pytest.fixture
async def frontend(stack: Services, upstream: ScriptedUpstream) -> AsyncIterator[TestServer]:
    upstream.clear()
    async with running_frontend(stack.config) as server:
        await wait_for_backends(server, 2)
        yield server


async def streamed(server: TestServer, path: str, model: str) -> tuple[bytes, str, float]:
    """The whole streamed answer, its request id, and how long it took."""
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        async with session.post(server.make_url(path), json=request_body(path, model, stream=True)) as answer:
            assert answer.status == 200
            return await answer.read(), answer.headers["request-id"], time.monotonic() - started


def terminal_error(path: str, body: bytes) -> str:
    """The message of the stream's terminal error, checked to be in the shape of the API called."""
    events = SseParser().feed(body)
    last = events[-1]
    document = json.loads(last.data) if last.data != "[DONE]" else {}
    if path == "/v1/messages":
        assert last.name == "error" and document["error"]["type"] == "api_error"
        return document["error"]["message"]
    if path == "/v1/responses":
        assert last.name == "response.failed" and events[-2].name == "error"
        return document["response"]["error"]["message"]
    assert last.data == "[DONE]" and body.count(b"[DONE]") == 1  # the error chunk, then [DONE] (issue 16)
    document = json.loads(events[-2].data)
    assert set(document["error"]) == {"message", "type", "param", "code"}
    return document["error"]["message"]


async def assert_recorded(stack: Services, request_id: str, error_type: str) -> None:
    row = (await async_analytics_rows(stack.home, [request_id]))[request_id]
    assert (row["status"], row["error_type"]) == (504, error_type)


@pytest.mark.parametrize(("path", "model", "body"), KEEPALIVES_ONLY)
async def test_keepalives_alone_are_a_stalled_upstream(frontend: TestServer, upstream: ScriptedUpstream,
                                                       stack: Services, path: str, model: str,
                                                       body: HostileBody) -> None:
    upstream.push(Script(hostile=body))
    answer, request_id, seconds = await streamed(frontend, path, model)
    assert "upstream_stall_seconds" in terminal_error(path, answer) and seconds < STALL + GENEROUS
    await assert_recorded(stack, request_id, "upstream_stalled")


# A trickle of one byte at a time never completes an event (~20 s each): stalled. Events without end: the total.
STALLS_AND_DEADLINES = [
    ("/v1/chat/completions", "gpt-4o", stream(CHAT_FIRST, CHAT_TEXT, piece=1, delay=0.2), "upstream_stalled"),
    ("/v1/messages", "gpt-4o", stream(CHAT_FIRST, CHAT_TEXT, piece=1, delay=0.2), "upstream_stalled"),
    ("/v1/messages", "claude-slow", stream(ANTHROPIC_FIRST, ANTHROPIC_TEXT, piece=1, delay=0.2), "upstream_stalled"),
    ("/v1/chat/completions", "gpt-4o", stream(CHAT_FIRST, CHAT_TEXT, delay=0.05), "upstream_deadline"),
    ("/v1/responses", "gpt-4o", stream(CHAT_FIRST, CHAT_TEXT, delay=0.05), "upstream_deadline"),
    ("/v1/chat/completions", "claude-slow", stream(ANTHROPIC_FIRST, ANTHROPIC_TEXT, delay=0.05),
     "upstream_deadline"),
]
SETTINGS = {"upstream_stalled": ("upstream_stall_seconds", STALL), "upstream_deadline": ("upstream_total_seconds",
                                                                                        TOTAL)}


@pytest.mark.parametrize(("path", "model", "body", "error_type"), STALLS_AND_DEADLINES)
async def test_a_trickle_stalls_and_a_never_ending_answer_meets_the_total_deadline(
        frontend: TestServer, upstream: ScriptedUpstream, stack: Services, path: str, model: str,
        body: HostileBody, error_type: str) -> None:
    upstream.push(Script(hostile=body))
    answer, request_id, seconds = await streamed(frontend, path, model)
    setting, limit = SETTINGS[error_type]
    assert setting in terminal_error(path, answer) and limit - 0.5 < seconds < limit + GENEROUS
    await assert_recorded(stack, request_id, error_type)


@pytest.mark.parametrize(("path", "model", "filler"), [("/v1/chat/completions", "gpt-4o", b": keepalive\n\n"),
                                                       ("/v1/messages", "claude-slow", ANTHROPIC_PING)])
async def test_keepalives_from_the_start_meet_the_first_byte_deadline(
        frontend: TestServer, upstream: ScriptedUpstream, stack: Services, path: str, model: str,
        filler: bytes) -> None:
    """Before the first token the client has no byte (headers included): the deadline is an error answer."""
    upstream.push(Script(hostile=stream(b"", filler, delay=0.2)))
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        async with session.post(frontend.make_url(path), json=request_body(path, model, stream=True)) as answer:
            document, request_id = await answer.json(), answer.headers["request-id"]
    seconds = time.monotonic() - started
    assert answer.status == 504 and "upstream_first_byte_seconds" in json.dumps(document)
    assert FIRST_BYTE - 0.5 < seconds < FIRST_BYTE + GENEROUS
    await assert_recorded(stack, request_id, "upstream_timeout")


@pytest.mark.parametrize(("path", "model"), [("/v1/chat/completions", "gpt-4o"), ("/v1/messages", "claude-slow")])
async def test_no_headers_within_the_first_byte_deadline_is_a_504(frontend: TestServer, upstream: ScriptedUpstream,
                                                                  stack: Services, path: str, model: str) -> None:
    upstream.push(Script(delay=FIRST_BYTE + 3))
    async with aiohttp.ClientSession() as session:
        async with session.post(frontend.make_url(path), json=request_body(path, model, stream=False)) as answer:
            document, request_id = await answer.json(), answer.headers["request-id"]
    assert answer.status == 504
    message = document["error"]["message"]
    assert "upstream_first_byte_seconds" in message and ("'gpt-up'" in message or "'claude-up'" in message)
    await assert_recorded(stack, request_id, "upstream_timeout")


async def test_a_plain_body_that_stops_midway_reaches_the_client_as_a_broken_connection(
        frontend: TestServer, upstream: ScriptedUpstream, stack: Services) -> None:
    """Item 10's read timeout: the body's first 2 MiB, then silence."""
    upstream.push(Script(hostile=HostileBody(head=b'{"choices":[', filler=b" ", size=4 << 20, piece=2 << 20,
                                             delay=60.0)))
    async with aiohttp.ClientSession() as session:
        async with session.post(frontend.make_url("/v1/chat/completions"),
                                json=request_body("/v1/chat/completions", "gpt-4o", stream=False)) as answer:
            request_id = answer.headers["request-id"]
            with pytest.raises(aiohttp.ClientPayloadError):
                await answer.read()
    await assert_recorded(stack, request_id, "upstream_stalled")


async def test_a_trickled_whole_body_to_translate_meets_the_total_deadline_as_a_504(
        frontend: TestServer, upstream: ScriptedUpstream, stack: Services) -> None:
    upstream.push(Script(hostile=HostileBody(head=b'{"choices":[', filler=b" ", size=1 << 20, piece=1, delay=0.1)))
    async with aiohttp.ClientSession() as session:
        async with session.post(frontend.make_url("/v1/messages"),
                                json=request_body("/v1/messages", "gpt-4o", stream=False)) as answer:
            document, request_id = await answer.json(), answer.headers["request-id"]
    assert answer.status == 504 and document["type"] == "error" and document["error"]["type"] == "timeout_error"
    assert "upstream_total_seconds" in document["error"]["message"]
    await assert_recorded(stack, request_id, "upstream_deadline")
