"""POST /v1/embeddings: routed like the other endpoints (text-embedding-* goes to the first OpenAI-kind backend by
default), passed through to OpenAI-compatible backends, refused by name toward an Anthropic one, and recorded."""

from __future__ import annotations

import json

import aiohttp
import openai
from aiohttp.test_utils import TestServer

from dario.testing.scripted_upstream import ScriptedUpstream
from dario.testing.stack import Services
from tests.integration.conftest import async_analytics_rows

KEY = "test-key-openai-0123456789"


async def test_embeddings_pass_through_to_the_openai_backend_with_its_usage_recorded(
    both_kinds_frontend: TestServer, both_kinds: Services, upstream: ScriptedUpstream
) -> None:
    client = openai.AsyncOpenAI(base_url=str(both_kinds_frontend.make_url("/v1")), api_key="dario", max_retries=0)
    raw = await client.embeddings.with_raw_response.create(model="text-embedding-3-small",
                                                           input=["first text", "second"])
    answer = raw.parse()
    assert [item.embedding for item in answer.data] == [[0.1, 0.2, 0.3]] * 2
    assert raw.headers["x-dario-backend"] == "gpt"
    [sent] = [recorded for recorded in upstream.requests if recorded.path.endswith("/embeddings")]
    assert sent.headers["Authorization"] == f"Bearer {KEY}" and json.loads(sent.body)["input"] == ["first text",
                                                                                                     "second"]
    rows = await async_analytics_rows(both_kinds.home, [raw.headers["request-id"]])
    row = rows[raw.headers["request-id"]]
    assert row["api_format"] == "embeddings" and row["status"] == 200
    assert row["input_tokens"] == answer.usage.prompt_tokens > 0


async def test_embeddings_routed_to_an_anthropic_backend_are_a_400_naming_the_model(
    both_kinds_frontend: TestServer, upstream: ScriptedUpstream
) -> None:
    async with aiohttp.ClientSession() as session, session.post(
            both_kinds_frontend.make_url("/v1/embeddings"), json={"model": "claude-sonnet-5", "input": "hi"}) as reply:
        document = await reply.json()
        assert reply.status == 400 and "request-id" in reply.headers
    assert document["error"]["param"] == "model" and "embeddings" in document["error"]["message"]
    assert not [recorded for recorded in upstream.requests if "embeddings" in recorded.path]


async def test_an_embeddings_body_without_input_is_a_400_naming_it(both_kinds_frontend: TestServer) -> None:
    async with aiohttp.ClientSession() as session, session.post(
            both_kinds_frontend.make_url("/v1/embeddings"), json={"model": "text-embedding-3-small"}) as reply:
        assert reply.status == 400 and (await reply.json())["error"]["param"] == "input"
