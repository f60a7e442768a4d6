"""Analytics group by one model name (issue 16 item 2): the model the client requested, streamed or not, native or
translated, with the models the upstreams said they served listed beside it."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from dario.testing.scripted_upstream import Script, ScriptedUpstream
from dario.testing.stack import Services
from tests.integration.conftest import async_analytics_rows

pytestmark = pytest.mark.timeout(120)
MODEL = "gpt-4o-mini"  # served by the openai backend "gpt" of both_kinds


async def test_streamed_and_whole_requests_record_the_served_model_alike_and_group_under_the_requested_one(
        both_kinds_frontend: TestServer, upstream: ScriptedUpstream, both_kinds: Services) -> None:
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    anthropic_body = {"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    requests = [("/v1/chat/completions", chat), ("/v1/chat/completions", {**chat, "stream": True}),
                ("/v1/messages", anthropic_body), ("/v1/messages", {**anthropic_body, "stream": True})]
    ids = []
    async with aiohttp.ClientSession() as session:
        for path, body in requests:
            upstream.push(Script(content="hello", usage=None))  # no usage at all: the model still counts
            async with session.post(both_kinds_frontend.make_url(path), json=body) as answer:
                await answer.read()
                assert answer.status == 200
                ids.append(answer.headers["request-id"])
        rows = await async_analytics_rows(both_kinds.home, ids)
        assert {(row["model"], row["served_model"]) for row in rows.values()} == {(MODEL, MODEL)}
        async with session.get(both_kinds_frontend.make_url("/analytics")) as answer:
            report = await answer.json()
    groups = [entry for entry in report["by_model"] if entry["model"] == MODEL]
    assert len(groups) == 1 and groups[0]["served_models"] == MODEL and groups[0]["requests"] >= 4
