"""The scripted upstream speaks OpenAI's real wire format: the official openai SDK talks to it unmodified."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import aiohttp
import anthropic
import httpx2
import openai
import pytest

from dario.testing.processes import REPO
from dario.testing.scripted_upstream import Script, ScriptedUpstream, threaded

UNICODE = "héllo wörld ☃ 🚀"


@pytest.fixture
async def upstream() -> AsyncIterator[ScriptedUpstream]:
    running = ScriptedUpstream()
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def client(upstream: ScriptedUpstream) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=upstream.base_url, api_key="test-key", max_retries=0) as sdk:
        yield sdk


def ask(text: str = "hi") -> list[dict]:
    return [{"role": "user", "content": text}]


async def test_plain_completion_is_a_real_chat_completion(client: openai.AsyncOpenAI) -> None:
    raw = await client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=ask("ping"))
    completion = raw.parse()
    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o-mini"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "Hello from scripted upstream: ping"
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    assert usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details.reasoning_tokens == 0
    assert raw.headers["x-request-id"].startswith("req_")
    assert int(raw.headers["openai-processing-ms"]) >= 0
    for kind in ("requests", "tokens"):
        assert int(raw.headers[f"x-ratelimit-limit-{kind}"]) >= int(raw.headers[f"x-ratelimit-remaining-{kind}"])
    assert raw.headers["x-ratelimit-reset-requests"] == "6m0s"
    assert raw.headers["x-ratelimit-reset-tokens"] == "20ms"


async def test_scripted_content_and_usage_come_back(upstream: ScriptedUpstream, client: openai.AsyncOpenAI) -> None:
    usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18,
             "prompt_tokens_details": {"cached_tokens": 5}, "completion_tokens_details": {"reasoning_tokens": 2}}
    upstream.push(Script(content=UNICODE, usage=usage))
    completion = await client.chat.completions.create(model="gpt-4o", messages=ask())
    assert completion.choices[0].message.content == UNICODE
    assert completion.usage.prompt_tokens_details.cached_tokens == 5
    assert completion.usage.completion_tokens_details.reasoning_tokens == 2


async def test_no_usage_script_answers_without_usage(upstream: ScriptedUpstream, client: openai.AsyncOpenAI) -> None:
    upstream.push(Script(content="like llama.cpp", usage=None), Script(content="like Ollama", usage=None))
    completion = await client.chat.completions.create(model="llama", messages=ask())
    assert completion.usage is None
    stream = await client.chat.completions.create(
        model="llama", messages=ask(), stream=True, stream_options={"include_usage": True}
    )
    assert [chunk.usage async for chunk in stream if chunk.usage is not None] == []


async def test_stream_split_into_one_byte_writes_reassembles_exactly(
    upstream: ScriptedUpstream, client: openai.AsyncOpenAI
) -> None:
    upstream.push(Script(content=UNICODE * 3, split=1))
    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=ask(), stream=True)
    chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(chunk.object == "chat.completion.chunk" and chunk.id == chunks[0].id for chunk in chunks)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == UNICODE * 3
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is None  # no usage chunk unless include_usage


async def test_seeded_random_split_reassembles_exactly(upstream: ScriptedUpstream, client: openai.AsyncOpenAI) -> None:
    upstream.push(Script(content=UNICODE * 4, seed_split=42))
    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=ask(), stream=True)
    assert "".join([chunk.choices[0].delta.content or "" async for chunk in stream]) == UNICODE * 4


async def test_split_pieces_arrive_separately_and_join_to_the_unsplit_body(upstream: ScriptedUpstream) -> None:
    body = {"model": "gpt-4o-mini", "messages": ask(), "stream": True}
    upstream.push(Script(content=UNICODE), Script(content=UNICODE, split=[37, 1, 50], chunk_delay=0.01))
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{upstream.base_url}/chat/completions", json=body) as answer:
            whole = await answer.read()
        async with session.post(f"{upstream.base_url}/chat/completions", json=body) as answer:
            assert answer.headers["Transfer-Encoding"] == "chunked"
            assert answer.headers["Content-Type"] == "text/event-stream; charset=utf-8"
            pieces = [piece async for piece in answer.content.iter_any()]
    assert len(pieces) > 10
    split = b"".join(pieces)
    assert split.endswith(b"data: [DONE]\n\n") and whole.endswith(b"data: [DONE]\n\n")
    events = [event for event in split.split(b"\n\n") if event]
    assert all(event.startswith(b"data: ") for event in events)
    assert len(events) == len([event for event in whole.split(b"\n\n") if event])


async def test_include_usage_adds_a_usage_chunk_with_no_choices(
    upstream: ScriptedUpstream, client: openai.AsyncOpenAI
) -> None:
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=ask(), stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.total_tokens == chunks[-1].usage.prompt_tokens + chunks[-1].usage.completion_tokens
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert upstream.prompt_tokens == chunks[-1].usage.prompt_tokens


@pytest.mark.parametrize(
    ("status", "exception", "code"),
    [
        (400, openai.BadRequestError, "invalid_value"),
        (401, openai.AuthenticationError, "invalid_api_key"),
        (404, openai.NotFoundError, "model_not_found"),
        (429, openai.RateLimitError, "rate_limit_exceeded"),
        (500, openai.InternalServerError, None),
        (503, openai.InternalServerError, None),
    ],
)
async def test_error_scripts_raise_the_sdks_matching_exception(
    upstream: ScriptedUpstream, client: openai.AsyncOpenAI, status: int, exception: type[openai.APIStatusError],
    code: str | None
) -> None:
    upstream.push(Script(status=status))
    with pytest.raises(exception) as raised:
        await client.chat.completions.create(model="gpt-4o-mini", messages=ask())
    assert raised.value.status_code == status
    assert raised.value.code == code
    assert raised.value.body["message"]
    assert raised.value.response.headers["x-request-id"].startswith("req_")
    assert upstream.served == 0


async def test_rate_limit_answer_carries_retry_after_and_exhausted_headers(
    upstream: ScriptedUpstream, client: openai.AsyncOpenAI
) -> None:
    upstream.push(Script(status=429))
    with pytest.raises(openai.RateLimitError) as raised:
        await client.chat.completions.create(model="gpt-4o-mini", messages=ask())
    headers = raised.value.response.headers
    assert headers["retry-after"] == "1"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert raised.value.body == {"message": raised.value.body["message"], "type": "requests", "param": None,
                                 "code": "rate_limit_exceeded"}


async def test_html_502_is_not_json(upstream: ScriptedUpstream, client: openai.AsyncOpenAI) -> None:
    upstream.push(Script(status=502, html=True))
    with pytest.raises(openai.InternalServerError) as raised:
        await client.chat.completions.create(model="gpt-4o-mini", messages=ask())
    assert raised.value.status_code == 502
    assert raised.value.response.headers["Content-Type"].startswith("text/html")


async def test_break_after_aborts_a_stream_midway(upstream: ScriptedUpstream, client: openai.AsyncOpenAI) -> None:
    upstream.push(Script(content=UNICODE * 20, split=50, break_after=600))
    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=ask(), stream=True)
    received = []
    with pytest.raises((openai.APIError, httpx2.TransportError)):
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
    assert 0 < len("".join(received)) < len(UNICODE * 20)


async def test_break_after_aborts_a_plain_answer(upstream: ScriptedUpstream, client: openai.AsyncOpenAI) -> None:
    upstream.push(Script(content=UNICODE * 20, break_after=100))
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="gpt-4o-mini", messages=ask())


async def test_delay_holds_back_the_headers(upstream: ScriptedUpstream) -> None:
    upstream.push(Script(delay=1.0))
    async with openai.AsyncOpenAI(base_url=upstream.base_url, api_key="k", max_retries=0, timeout=0.2) as sdk:
        with pytest.raises(openai.APITimeoutError):
            await sdk.chat.completions.create(model="gpt-4o-mini", messages=ask())


async def test_requests_are_recorded_with_headers_and_exact_body_bytes(
    upstream: ScriptedUpstream, client: openai.AsyncOpenAI
) -> None:
    await client.chat.completions.create(model="gpt-4o-mini", messages=ask(UNICODE), temperature=0.5)
    sent = upstream.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["Authorization"] == "Bearer test-key"
    assert sent.json == {"model": "gpt-4o-mini", "messages": ask(UNICODE), "temperature": 0.5}
    assert json.loads(sent.body.decode("utf-8")) == sent.json


async def test_counts_follow_what_was_served(upstream: ScriptedUpstream, client: openai.AsyncOpenAI) -> None:
    upstream.push(Script(usage={"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}), Script(status=500))
    await client.chat.completions.create(model="gpt-4o-mini", messages=ask())
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="gpt-4o-mini", messages=ask())
    assert (len(upstream.requests), upstream.served) == (2, 1)
    assert (upstream.prompt_tokens, upstream.completion_tokens, upstream.total_tokens) == (10, 3, 13)


async def test_scripts_keyed_by_model_go_to_that_model_first(
    upstream: ScriptedUpstream, client: openai.AsyncOpenAI
) -> None:
    upstream.push(Script(content="for anyone"))
    upstream.push(Script(content="for gpt-4o"), model="gpt-4o")
    mini = await client.chat.completions.create(model="gpt-4o-mini", messages=ask())
    full = await client.chat.completions.create(model="gpt-4o", messages=ask())
    again = await client.chat.completions.create(model="gpt-4o", messages=ask("x"))
    assert mini.choices[0].message.content == "for anyone"
    assert full.choices[0].message.content == "for gpt-4o"
    assert again.choices[0].message.content == "Hello from scripted upstream: x"


async def test_models_list(client: openai.AsyncOpenAI) -> None:
    models = [model.id async for model in client.models.list()]
    assert "gpt-4o-mini" in models


def test_threaded_upstream_serves_the_sync_sdk() -> None:
    with threaded() as upstream:
        upstream.push(Script(content=UNICODE, split=1))
        sdk = openai.OpenAI(base_url=upstream.base_url, api_key="test-key", max_retries=0)
        stream = sdk.chat.completions.create(model="gpt-4o-mini", messages=ask(), stream=True)
        assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == UNICODE
        sdk.close()
        assert upstream.served == 1


async def test_runs_alone_until_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dario.testing.scripted_upstream", "--port", "0", "--delay-ms", "5",
        cwd=REPO, stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode().strip()
        assert line.startswith("listening on http://127.0.0.1:") and line.endswith("/v1")
        async with openai.AsyncOpenAI(base_url=line.removeprefix("listening on "), api_key="k") as sdk:
            completion = await sdk.chat.completions.create(model="gpt-4o-mini", messages=ask("bench"))
        assert completion.choices[0].message.content == "Hello from scripted upstream: bench"
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_accept_token_answers_a_refused_key_with_openais_401_before_any_script(
    upstream: ScriptedUpstream, client: openai.AsyncOpenAI
) -> None:
    upstream.accept_token = lambda token: token == "good-key"
    upstream.push(Script(content="kept for the good key"))
    with pytest.raises(openai.AuthenticationError) as raised:
        await client.chat.completions.create(model="gpt-4o-mini", messages=ask())
    assert raised.value.code == "invalid_api_key" and raised.value.type == "invalid_request_error"
    assert raised.value.body["message"].startswith("Incorrect API key provided")
    assert raised.value.response.headers["x-request-id"].startswith("req_")
    async with openai.AsyncOpenAI(base_url=upstream.base_url, api_key="good-key", max_retries=0) as sdk:
        completion = await sdk.chat.completions.create(model="gpt-4o-mini", messages=ask())
    assert completion.choices[0].message.content == "kept for the good key"
    assert (upstream.unauthorized, upstream.served, len(upstream.requests)) == (1, 1, 2)
    assert upstream.requests[0].headers["Authorization"] == "Bearer test-key"


async def test_accept_token_checks_anthropics_x_api_key_and_bearer(upstream: ScriptedUpstream) -> None:
    upstream.accept_token = lambda token: token == "good-key"
    origin = upstream.base_url.removesuffix("/v1")
    ask_once = {"model": "claude-opus-5", "max_tokens": 16, "messages": ask()}
    async with anthropic.AsyncAnthropic(base_url=origin, api_key="bad-key", max_retries=0) as sdk:
        with pytest.raises(anthropic.AuthenticationError) as raised:
            await sdk.messages.create(**ask_once)
    assert raised.value.body == {"type": "error", "error": {"type": "authentication_error",
                                                            "message": "invalid x-api-key"},
                                 "request_id": raised.value.body["request_id"]}
    async with anthropic.AsyncAnthropic(base_url=origin, api_key="good-key", max_retries=0) as sdk:
        assert (await sdk.messages.create(**ask_once)).content[0].text.startswith("Hello")
    async with anthropic.AsyncAnthropic(base_url=origin, auth_token="good-key", max_retries=0) as sdk:
        assert (await sdk.messages.create(**ask_once)).content[0].text.startswith("Hello")
    assert (upstream.unauthorized, upstream.served, len(upstream.requests)) == (1, 2, 3)
