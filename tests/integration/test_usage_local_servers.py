"""Streamed usage against a llama.cpp-like server that never streams any (issue 16's done-when): non-zero for the
client, and marked estimated in analytics."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterator

import aiohttp
import anthropic
import pytest
from aiohttp.test_utils import TestServer

from dario.config.sections import RoutingConfig, Rule
from dario.testing.llamacpp_like import LlamaCppLike, ThreadedLlamaCpp
from dario.testing.stack import Services, running_frontend, running_services, wait_for_backends
from frontend.translate.sse import SseParser
from tests.integration.conftest import async_analytics_rows

pytestmark = pytest.mark.timeout(120)
MODEL = "gemma-3-4b-it"
QUESTION = [{"role": "user", "content": "What is the weather like in Paris in spring? Two sentences."}]


@pytest.fixture(scope="module")
def llamacpp() -> Iterator[LlamaCppLike]:
    with ThreadedLlamaCpp() as running:
        yield running


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, llamacpp: LlamaCppLike) -> Iterator[Services]:
    with running_services(tmp_path_factory.mktemp("usage-local") / "home") as started:
        started.add_backend("local", llamacpp.base_url, kind="openai")
        yield started


@pytest.fixture
async def frontend(services: Services, llamacpp: LlamaCppLike) -> AsyncIterator[TestServer]:
    llamacpp.clear()
    everything_local = RoutingConfig(rules=(Rule("*", "local", model=MODEL),))
    async with running_frontend(dataclasses.replace(services.config, routing=everything_local)) as server:
        await wait_for_backends(server, 1)
        yield server


async def test_claude_code_shaped_streams_get_estimated_usage(frontend: TestServer, services: Services) -> None:
    client = anthropic.AsyncAnthropic(base_url=str(frontend.make_url("")), api_key="d", max_retries=0)
    async with client.messages.stream(model="claude-sonnet-4-5", max_tokens=200, messages=QUESTION) as stream:
        final = await stream.get_final_message()
        request_id = stream.response.headers["request-id"]
    assert final.usage.input_tokens > 5 and final.usage.output_tokens > 5
    row = (await async_analytics_rows(services.home, [request_id]))[request_id]
    assert row["usage_estimated"] == 1 and (row["input_tokens"], row["output_tokens"]) == (
        final.usage.input_tokens, final.usage.output_tokens)


async def test_codex_shaped_streams_get_estimated_usage(frontend: TestServer, services: Services) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(frontend.make_url("/v1/responses"), json={
                "model": "gpt-5-codex", "input": QUESTION[0]["content"], "stream": True}) as answer:
            events = [json.loads(event.data) for event in SseParser().feed(await answer.read())]
            request_id = answer.headers["request-id"]
    assert events[-1]["type"] == "response.completed"
    usage = events[-1]["response"]["usage"]
    assert usage["input_tokens"] > 5 and usage["output_tokens"] > 5
    row = (await async_analytics_rows(services.home, [request_id]))[request_id]
    assert row["usage_estimated"] == 1 and row["output_tokens"] == usage["output_tokens"]
