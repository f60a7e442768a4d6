"""Records and accounting under hostile input: a 4 MiB model name, a lone surrogate and hundreds of unique model
names still get answers, leave bounded records, and never stop the records of the requests that follow."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from dario.testing.scripted_upstream import ScriptedUpstream
from dario.testing.stack import Services, running_services
from tests.integration.conftest import async_analytics_rows

pytestmark = pytest.mark.timeout(180)
KEYS = {"key-a": "test-key-records-a-0123456789", "key-b": "test-key-records-b-0123456789"}
MESSAGES = [{"role": "user", "content": "hi"}]
HUGE = 4 * 1024 * 1024  # pool_service's gRPC message limit


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, upstream: ScriptedUpstream) -> Iterator[Services]:
    home = tmp_path_factory.mktemp("records") / "home"
    with running_services(home) as started:
        for name, key in KEYS.items():  # two credentials: each request goes through Acquire and is held in flight
            started.add_backend("pooled", upstream.base_url, key, credential=name)
        yield started  # conftest's frontend fixture runs against these services


async def chat(session: aiohttp.ClientSession, server: TestServer, model: str) -> tuple[int, dict, str]:
    body = json.dumps({"model": model, "messages": MESSAGES}).encode()  # ensure_ascii: lone surrogates as \\ud800
    async with session.post(server.make_url("/v1/chat/completions"), data=body,
                            headers={"content-type": "application/json"}) as answer:
        return answer.status, await answer.json(), answer.headers["request-id"]


async def wait_until_idle(session: aiohttp.ClientSession, server: TestServer, deadline_seconds: float = 15.0) -> list:
    """/accounts until no credential has a request in flight (the outcomes released them), within a deadline."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        async with session.get(server.make_url("/accounts")) as answer:
            accounts = (await answer.json())["accounts"]
        if accounts and all(account["in_flight"] == 0 for account in accounts):
            return accounts
        if time.monotonic() > deadline:
            raise AssertionError(f"requests still in flight after {deadline_seconds}s: {accounts}")
        await asyncio.sleep(0.05)


async def test_a_four_mib_model_name_is_answered_recorded_bounded_and_never_stops_the_records(
    frontend: TestServer, services: Services
) -> None:
    async with aiohttp.ClientSession() as session:
        status, document, unroutable = await chat(session, frontend, "x" * HUGE)
        assert status == 404, document  # no rule and no default send it anywhere: the client is told so
        assert document["error"]["code"] == "model_not_found" or "no route" in document["error"]["message"]
        status, document, served = await chat(session, frontend, "gpt-" + "y" * HUGE)
        assert status == 200, document  # a gpt- name goes to the openai backend, which answered (it echoes any)
        status, document, echoed = await chat(session, frontend, "gpt-" + "w" * 1000)
        assert status == 200 and len(document["model"]) == 1004  # the upstream names it as the served model
        status, document, surrogate = await chat(session, frontend, "gpt-\ud800-lone")
        assert status == 400 and document["error"]["code"] == "invalid_json", document
        following = [(await chat(session, frontend, "gpt-4o-mini"))[2] for _ in range(5)]

        rows = await async_analytics_rows(services.home, [unroutable, served, echoed, surrogate, *following])
        for model in (rows[unroutable]["model"], rows[served]["model"], rows[echoed]["served_model"]):
            assert len(model) == 256 and model.endswith("…"), len(model)
        assert rows[surrogate]["status"] == 400
        assert all(rows[request_id]["status"] == 200 for request_id in following)
        assert rows[unroutable]["status"] == 404
        accounts = await wait_until_idle(session, frontend)
        assert sum(account["chosen"] for account in accounts) >= 7
        async with session.get(frontend.make_url("/health")) as answer:
            health = await answer.json()
        assert health["reporter"]["state"] == "ok", health
        assert health["reporter"]["refused"] == 0  # bounded before sending: nothing had to be dropped


async def test_metrics_stay_small_and_parse_with_hundreds_of_unique_long_model_names(frontend: TestServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(frontend.make_url("/metrics")) as answer:
            before = len(await answer.read())
        for index in range(200):  # long unique names the upstream answers (it echoes any model), then short ones
            status, _, _ = await chat(session, frontend, f"gpt-{index}-" + "z" * 65536)
            assert status == 200
        for index in range(200):
            status, _, _ = await chat(session, frontend, f"gpt-short-{index}")
            assert status == 200
        async with session.get(frontend.make_url("/metrics")) as answer:
            text = await answer.text()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    labels = {sample.labels["model"] for sample in families["dario_requests"].samples}
    assert len(text.encode()) < before + 64 * 1024, len(text.encode())
    assert max(len(label) for label in labels) <= 128
    assert "other" in labels and len(labels) <= 101
    served = sum(sample.value for sample in families["dario_requests"].samples if sample.name.endswith("_total"))
    assert served >= 400  # every request is still counted, under its model or "other"
