"""The real frontend and services against a scripted OpenAI upstream: pass-through, streaming, errors, analytics."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import openai
import pytest
from aiohttp.test_utils import TestServer

from dario.testing.scripted_upstream import Script, ScriptedUpstream
from dario.testing.stack import Services
from tests.integration.conftest import TEST_KEY, async_analytics_rows

pytestmark = pytest.mark.timeout(120)
UNICODE = "héllo wörld ☃ 🚀 — ünïcödé split everywhere"
MESSAGES = [{"role": "user", "content": "Say hello"}]


def client(server: TestServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=str(server.make_url("/v1")), api_key="dario", max_retries=0)


async def test_non_streaming_answer_reaches_the_openai_sdk(frontend: TestServer, upstream: ScriptedUpstream,
                                                           services: Services) -> None:
    upstream.push(Script(content=UNICODE))
    raw = await client(frontend).chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    answer = raw.parse()
    assert answer.choices[0].message.content == UNICODE
    assert raw.headers["x-dario-backend"] == "scripted"
    assert raw.headers["x-ratelimit-limit-requests"] == "10000"
    assert raw.headers["x-upstream-request-id"].startswith("req_")
    request_id = raw.headers["request-id"]
    assert request_id == raw.headers["x-request-id"] and request_id != raw.headers["x-upstream-request-id"]
    sent = upstream.requests[-1]
    assert sent.headers["Authorization"] == f"Bearer {TEST_KEY}"
    row = (await async_analytics_rows(services.home, [request_id]))[request_id]
    assert row["status"] == 200 and row["backend"] == "scripted" and row["credential"] == "default"
    assert row["model"] == "gpt-4o-mini" and row["stream"] == 0
    assert row["input_tokens"] == answer.usage.prompt_tokens and row["output_tokens"] == answer.usage.completion_tokens
    assert row["latency_ms"] > 0 and row["ttfb_ms"] > 0


async def test_body_goes_upstream_byte_for_byte_with_only_auth_swapped(frontend: TestServer,
                                                                      upstream: ScriptedUpstream) -> None:
    body = b'{"model":"gpt-4o",  "messages":[{"role":"user","content":"x"}], "weird_field": [1, 2.50, null]}'
    async with aiohttp.ClientSession() as session:
        async with session.post(frontend.make_url("/v1/chat/completions"), data=body,
                                headers={"authorization": "Bearer client-own-key", "content-type": "application/json"}
                                ) as answer:
            assert answer.status == 200
    sent = upstream.requests[-1]
    assert sent.body == body
    assert sent.headers["Authorization"] == f"Bearer {TEST_KEY}"
    assert "client-own-key" not in json.dumps(sent.headers)


@pytest.mark.parametrize("split", [1, 3, 7, None])
async def test_stream_split_at_any_byte_is_reassembled_exactly(frontend: TestServer, upstream: ScriptedUpstream,
                                                             services: Services, split: int | None) -> None:
    upstream.push(Script(content=UNICODE, split=split))
    stream = await client(frontend).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    text, usage, request_id = "", None, stream.response.headers["request-id"]
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage
    assert text == UNICODE
    assert usage is not None
    row = (await async_analytics_rows(services.home, [request_id]))[request_id]
    assert row["stream"] == 1 and row["status"] == 200
    assert (row["input_tokens"], row["output_tokens"]) == (usage.prompt_tokens, usage.completion_tokens)


@pytest.mark.parametrize("seed", range(5))
async def test_stream_with_random_splits_keeps_every_event(frontend: TestServer, upstream: ScriptedUpstream,
                                                          seed: int) -> None:
    upstream.push(Script(content=UNICODE * 3, seed_split=seed))
    stream = await client(frontend).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert text == UNICODE * 3


async def test_stream_without_usage_is_recorded_without_tokens(frontend: TestServer, upstream: ScriptedUpstream,
                                                              services: Services) -> None:
    upstream.push(Script(content="no usage here", usage=None))
    stream = await client(frontend).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    request_id = stream.response.headers["request-id"]
    assert all(chunk.usage is None for chunk in chunks)
    row = (await async_analytics_rows(services.home, [request_id]))[request_id]
    assert row["input_tokens"] is None and row["output_tokens"] is None


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
async def test_upstream_errors_pass_through_with_status_body_and_headers(
    frontend: TestServer, upstream: ScriptedUpstream, services: Services, status: int,
    exception: type[openai.APIStatusError]
) -> None:
    upstream.push(Script(status=status, split=5 if status == 500 else None))
    with pytest.raises(exception) as caught:
        await client(frontend).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    error = caught.value
    assert error.status_code == status
    assert error.body["type"] and error.body["message"]  # the SDK unwraps {"error": {...}}
    assert error.response.headers["x-ratelimit-limit-requests"] == "10000"
    if status == 429:
        assert error.response.headers["retry-after"] == "1"
    request_id = error.response.headers["request-id"]
    row = (await async_analytics_rows(services.home, [request_id]))[request_id]
    assert row["status"] == status and row["error_type"] == "upstream_error"


async def test_non_json_upstream_error_keeps_its_status(frontend: TestServer, upstream: ScriptedUpstream) -> None:
    upstream.push(Script(status=502, html=True))
    async with aiohttp.ClientSession() as session:
        async with session.post(frontend.make_url("/v1/chat/completions"),
                                json={"model": "gpt-4o", "messages": MESSAGES}) as answer:
            assert answer.status == 502
            assert b"Bad Gateway" in await answer.read()
            assert answer.headers["request-id"].startswith("req_")


async def test_stream_that_breaks_off_ends_with_an_error_the_sdk_raises(
    frontend: TestServer, upstream: ScriptedUpstream, services: Services
) -> None:
    upstream.push(Script(content=UNICODE * 5, split=9, break_after=700))
    stream = await client(frontend).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    request_id = stream.response.headers["request-id"]
    received = ""
    with pytest.raises(openai.APIError, match="ended the stream prematurely"):
        async for chunk in stream:
            if chunk.choices:
                received += chunk.choices[0].delta.content or ""
    assert received and (UNICODE * 5).startswith(received)
    row = (await async_analytics_rows(services.home, [request_id]))[request_id]
    assert row["error_type"] == "upstream_stream_broken"


async def test_client_that_disconnects_cancels_the_upstream_request(
    frontend: TestServer, upstream: ScriptedUpstream, services: Services
) -> None:
    upstream.push(Script(content="x" * 4000, split=40, chunk_delay=0.05))
    async with aiohttp.ClientSession() as session:
        answer = await session.post(frontend.make_url("/v1/chat/completions"),
                                    json={"model": "gpt-4o", "messages": MESSAGES, "stream": True})
        request_id = answer.headers["request-id"]
        await answer.content.readany()
        answer.close()  # drop the connection mid-stream
    row = (await async_analytics_rows(services.home, [request_id]))[request_id]
    assert row["status"] == 499 and row["error_type"] == "client_disconnected"
    deadline = time.monotonic() + 5  # the upstream notices the closed connection on its next write
    while upstream.disconnects < 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert upstream.disconnects >= 1


async def test_client_that_hangs_up_right_after_done_is_recorded_as_served_with_usage(
    frontend: TestServer, upstream: ScriptedUpstream, services: Services
) -> None:
    upstream.push(Script(content="complete answer", linger=1.0))
    async with aiohttp.ClientSession() as session:
        answer = await session.post(frontend.make_url("/v1/chat/completions"), json={
            "model": "gpt-4o", "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}})
        request_id = answer.headers["request-id"]
        received = b""
        while b"data: [DONE]" not in received:
            received += await answer.content.readany()
        answer.close()  # gone before the upstream ended its body
    row = (await async_analytics_rows(services.home, [request_id]))[request_id]
    assert row["status"] == 200 and row["error_type"] == ""
    assert row["output_tokens"] is not None and row["output_tokens"] > 0
