"""The JSON the dashboard reads (issue 14), through the real frontend and services: GET /analytics/timeline,
/analytics/requests and /config, their errors, and the /ui routes' access pages and headers."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from dario.testing.scripted_upstream import ScriptedUpstream
from tests.integration.conftest import TEST_KEY

pytestmark = pytest.mark.timeout(120)


async def get(server: TestServer, path: str, **headers: str) -> tuple[int, Any, Mapping[str, str]]:
    async with aiohttp.ClientSession() as session, session.get(server.make_url(path), headers=headers,
                                                                allow_redirects=False) as answer:
        body = await answer.json() if answer.content_type == "application/json" else await answer.text()
        return answer.status, body, answer.headers


async def send(server: TestServer, model: str) -> str:
    async with aiohttp.ClientSession() as session, session.post(
        server.make_url("/v1/chat/completions"), json={"model": model, "messages": [{"role": "user", "content": "hi"}]}
    ) as answer:
        assert answer.status == 200
        return answer.headers["request-id"]


async def wait_total(server: TestServer, wanted: int) -> dict:
    for _ in range(300):
        status, body, _ = await get(server, "/analytics/requests?limit=5")
        assert status == 200
        if body["total"] >= wanted:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"analytics never held {wanted} requests")


async def test_recorded_requests_come_back_newest_first_with_a_timeline(frontend: TestServer,
                                                                         upstream: ScriptedUpstream) -> None:
    status, before, _ = await get(frontend, "/analytics/requests?limit=1")
    first = await send(frontend, "gpt-4o-mini")
    second = await send(frontend, "gpt-4o")
    page = await wait_total(frontend, before["total"] + 2)
    assert [entry["request_id"] for entry in page["requests"][:2]] == [second, first]
    newest = page["requests"][0]
    assert newest["backend"] == "scripted" and newest["model"] == "gpt-4o" and newest["status"] == 200
    assert not any(TEST_KEY in str(value) for value in newest.values())
    status, timeline, _ = await get(frontend, "/analytics/timeline?window=3600&by=model")
    assert status == 200 and timeline["bucket_seconds"] == 60 and len(timeline["starts"]) == 60
    models = {series["key"]: sum(series["requests"]) for series in timeline["series"]}
    assert models["gpt-4o"] >= 1 and models["gpt-4o-mini"] >= 1
    status, filtered, _ = await get(frontend, "/analytics/requests?model=gpt-4o&limit=500")
    assert {entry["model"] for entry in filtered["requests"]} == {"gpt-4o"}


@pytest.mark.parametrize(("path", "param"), [
    ("/analytics/timeline?by=nonsense", None), ("/analytics/timeline?window=0", "window"),
    ("/analytics/timeline?window=86400&bucket=1", None), ("/analytics/requests?limit=0", "limit"),
    ("/analytics/requests?offset=-1", "offset"), ("/analytics/requests?status=abc", "status"),
])
async def test_bad_dashboard_queries_get_a_clear_400(frontend: TestServer, path: str, param: str | None) -> None:
    status, body, _ = await get(frontend, path)
    assert status == 400
    assert body["error"]["message"]
    if param:
        assert body["error"]["param"] == param


async def test_config_lists_backends_routes_and_prices_without_a_key(frontend: TestServer) -> None:
    status, config, _ = await get(frontend, "/config")
    assert status == 200
    (backend,) = config["backends"]
    assert backend["name"] == "scripted" and backend["credentials"][0]["name"] == "default"
    assert TEST_KEY not in str(config)
    assert any(price["pattern"].startswith("gpt-4o") for price in config["prices"])
    assert config["aliases"]["sonnet"].startswith("claude-sonnet")


async def test_the_dashboard_is_served_with_a_strict_csp(frontend: TestServer) -> None:
    status, body, headers = await get(frontend, "/ui")
    assert status == 200 and "<script src=\"/ui/vendor/uPlot.iife.min.js\">" in body
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "<script>" not in body and "style=" not in body  # nothing inline
    status, _, headers = await get(frontend, "/ui/vendor/uPlot.iife.min.js")
    assert status == 200 and headers["content-type"].startswith("application/javascript")
    status, _, _ = await get(frontend, "/ui/login")  # no key configured: nothing to log in with
    assert status == 303


async def test_a_foreign_host_gets_a_refusal_page_under_ui(frontend: TestServer) -> None:
    status, body, headers = await get(frontend, "/ui", Host="attacker.example")
    assert status == 403 and headers["content-type"].startswith("text/html")
    assert "does not serve the host" in body and "uPlot" not in body
