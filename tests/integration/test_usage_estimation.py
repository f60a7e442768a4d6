"""Usage is never silently zero (issue 16): an OpenAI-compatible upstream that reports none (llama.cpp, Ollama) gets
its usage estimated, told to the client in its own API, marked in a header (whole answers) and in analytics."""

from __future__ import annotations

import json

import aiohttp
import anthropic
import pytest
from aiohttp.test_utils import TestServer

from dario.testing.scripted_upstream import Script, ScriptedUpstream
from dario.testing.stack import Services
from frontend.translate.sse import SseParser
from tests.integration.conftest import async_analytics_rows

pytestmark = pytest.mark.timeout(120)
MODEL = "gpt-4o-mini"  # served by the openai backend "gpt" of both_kinds
ANSWER = "Paris is the capital of France, and it has been for a very long time."
QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one sentence, please."}]


def ant(server: TestServer) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=str(server.make_url("")), api_key="dario", max_retries=0)


@pytest.mark.parametrize("split", [None, 1, "random"])
async def test_an_anthropic_stream_from_an_upstream_without_usage_is_estimated_and_marked(
        both_kinds_frontend: TestServer, upstream: ScriptedUpstream, both_kinds: Services,
        split: int | str | None) -> None:
    pieces = {"split": split} if isinstance(split, int) else {"seed_split": 3} if split else {}
    upstream.push(Script(content=ANSWER, usage=None, **pieces))
    async with ant(both_kinds_frontend).messages.stream(model=MODEL, max_tokens=100, messages=QUESTION) as stream:
        final = await stream.get_final_message()
        request_id = stream.response.headers["request-id"]
    assert final.content[0].text == ANSWER and final.stop_reason == "end_turn"
    assert final.usage.input_tokens > 10 and final.usage.output_tokens > 10
    row = (await async_analytics_rows(both_kinds.home, [request_id]))[request_id]
    assert row["usage_estimated"] == 1 and row["error_type"] == "" and row["status"] == 200
    assert (row["input_tokens"], row["output_tokens"]) == (final.usage.input_tokens, final.usage.output_tokens)


async def test_a_whole_anthropic_answer_without_usage_is_estimated_with_the_header(
        both_kinds_frontend: TestServer, upstream: ScriptedUpstream, both_kinds: Services) -> None:
    upstream.push(Script(content=ANSWER, usage=None))
    raw = await ant(both_kinds_frontend).messages.with_raw_response.create(model=MODEL, max_tokens=100,
                                                                           messages=QUESTION)
    message = await raw.parse()
    assert raw.headers["x-dario-usage-estimated"] == "true"
    assert message.usage.input_tokens > 10 and message.usage.output_tokens > 10
    row = (await async_analytics_rows(both_kinds.home, [raw.headers["request-id"]]))[raw.headers["request-id"]]
    assert row["usage_estimated"] == 1 and row["output_tokens"] == message.usage.output_tokens


async def test_the_same_answer_streamed_and_whole_gets_the_same_estimate(
        both_kinds_frontend: TestServer, upstream: ScriptedUpstream) -> None:
    upstream.push(Script(content=ANSWER, usage=None), Script(content=ANSWER, usage=None, split=1))
    whole = await ant(both_kinds_frontend).messages.create(model=MODEL, max_tokens=100, messages=QUESTION)
    async with ant(both_kinds_frontend).messages.stream(model=MODEL, max_tokens=100, messages=QUESTION) as stream:
        streamed = await stream.get_final_message()
    assert whole.usage.output_tokens == streamed.usage.output_tokens
    # The stream asks for include_usage, so its request is a few tokens longer than the whole answer's.
    assert abs(whole.usage.input_tokens - streamed.usage.input_tokens) <= 10


async def test_reported_usage_is_kept_and_not_marked(both_kinds_frontend: TestServer, upstream: ScriptedUpstream,
                                                     both_kinds: Services) -> None:
    upstream.push(Script(content=ANSWER))
    raw = await ant(both_kinds_frontend).messages.with_raw_response.create(model=MODEL, max_tokens=100,
                                                                           messages=QUESTION)
    assert "x-dario-usage-estimated" not in raw.headers
    row = (await async_analytics_rows(both_kinds.home, [raw.headers["request-id"]]))[raw.headers["request-id"]]
    assert row["usage_estimated"] == 0 and row["served_model"] == MODEL


async def test_a_responses_stream_from_an_upstream_without_usage_is_estimated(
        both_kinds_frontend: TestServer, upstream: ScriptedUpstream, both_kinds: Services) -> None:
    upstream.push(Script(content=ANSWER, usage=None, split=1))
    async with aiohttp.ClientSession() as session:
        async with session.post(both_kinds_frontend.make_url("/v1/responses"), json={
                "model": MODEL, "input": "What is the capital of France?", "stream": True}) as answer:
            events = [json.loads(event.data) for event in SseParser().feed(await answer.read())]
            request_id = answer.headers["request-id"]
    completed = events[-1]
    assert completed["type"] == "response.completed"
    usage = completed["response"]["usage"]
    assert usage["input_tokens"] > 5 and usage["output_tokens"] > 10
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    row = (await async_analytics_rows(both_kinds.home, [request_id]))[request_id]
    assert row["usage_estimated"] == 1 and row["output_tokens"] == usage["output_tokens"]


async def test_count_tokens_toward_an_openai_backend_is_recorded_with_its_estimate(
        both_kinds_frontend: TestServer, both_kinds: Services) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(both_kinds_frontend.make_url("/v1/messages/count_tokens"),
                                json={"model": MODEL, "messages": QUESTION}) as answer:
            counted = (await answer.json())["input_tokens"]
            request_id = answer.headers["request-id"]
    row = (await async_analytics_rows(both_kinds.home, [request_id]))[request_id]
    assert (row["counted_tokens"], row["usage_estimated"], row["input_tokens"]) == (counted, 1, None)
    assert row["backend"] == "gpt" and row["cost_usd"] is None  # counted, not consumed: nothing to price


async def test_a_whole_responses_answer_without_usage_is_estimated_with_the_header(
        both_kinds_frontend: TestServer, upstream: ScriptedUpstream, both_kinds: Services) -> None:
    upstream.push(Script(content=ANSWER, usage=None))
    async with aiohttp.ClientSession() as session:
        async with session.post(both_kinds_frontend.make_url("/v1/responses"), json={
                "model": MODEL, "input": "What is the capital of France?"}) as answer:
            response = await answer.json()
            assert answer.headers["x-dario-usage-estimated"] == "true"
            request_id = answer.headers["request-id"]
    assert response["usage"]["input_tokens"] > 5 and response["usage"]["output_tokens"] > 10
    row = (await async_analytics_rows(both_kinds.home, [request_id]))[request_id]
    assert row["usage_estimated"] == 1 and row["input_tokens"] == response["usage"]["input_tokens"]


async def test_a_native_chat_answer_without_usage_is_estimated_in_analytics(
        both_kinds_frontend: TestServer, upstream: ScriptedUpstream, both_kinds: Services) -> None:
    """A Chat client on an OpenAI-compatible backend: the body passes unchanged, its record gets the estimate."""
    upstream.push(Script(content=ANSWER, usage=None))
    async with aiohttp.ClientSession() as session:
        async with session.post(both_kinds_frontend.make_url("/v1/chat/completions"), json={
                "model": MODEL, "messages": QUESTION}) as answer:
            completion = await answer.json()
            request_id = answer.headers["request-id"]
    assert "usage" not in completion or completion["usage"] is None  # passed through as the upstream sent it
    row = (await async_analytics_rows(both_kinds.home, [request_id]))[request_id]
    assert row["usage_estimated"] == 1 and row["input_tokens"] > 5 and row["output_tokens"] > 10
