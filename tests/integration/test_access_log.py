"""The frontend's access log: one line per request ([server] access_log, on by default), with what the outcome
holds (request id, API, model, backend, credential, status, latency, tokens) and never a key or a body."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from dario.testing.scripted_upstream import ScriptedUpstream
from dario.testing.stack import Services, running_frontend, wait_for_backends, with_server
from tests.integration.conftest import TEST_KEY

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "a prompt that stays out of logs"}]}


async def post(server, body: dict) -> str:
    async with aiohttp.ClientSession() as session, session.post(server.make_url("/v1/chat/completions"),
                                                                json=body) as answer:
        await answer.read()
        return answer.headers["request-id"]


async def test_each_request_gets_one_access_line_without_its_body_or_key(
    services: Services, upstream: ScriptedUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dario.access")
    async with running_frontend(services.config) as server:
        await wait_for_backends(server, 1)
        served = await post(server, BODY)
        refused = await post(server, {"model": "gpt-4o-mini"})  # a 400: logged too
    lines = [record.getMessage() for record in caplog.records if record.name == "dario.access"]
    [line] = [text for text in lines if served in text]
    assert "openai model=gpt-4o-mini" in line and "status=200" in line and "tokens=" in line
    assert "backend=" in line and "credential=" in line and "latency=" in line
    assert any(refused in text and "status=400" in text for text in lines)
    assert not any("a prompt that stays out of logs" in text or TEST_KEY in text for text in lines)


async def test_access_log_false_writes_none(services: Services, upstream: ScriptedUpstream,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dario.access")
    async with running_frontend(with_server(services.config, access_log=False)) as server:
        await wait_for_backends(server, 1)
        await post(server, BODY)
    assert not [record for record in caplog.records if record.name == "dario.access"]
