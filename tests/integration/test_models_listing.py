"""GET /v1/models (issue 16 item 7, issue 12 item 4): a backend whose /models never answers delays the listing
by at most [limits] models_seconds, once: answers are cached, and past models_cache_seconds served stale while
asked again in the background; only models that route somewhere are listed, and a model a backend listed routes
to that backend; a model nothing routes gets a 404 that names the backends there are, not one to add."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from dario.testing import raw_quirks
from dario.testing.raw_quirks import RawReply, RawRequest, RawUpstream
from dario.testing.stack import Services, running_frontend, running_services, wait_for_backends, with_limits
from dario.testing.threaded import Threaded
from frontend.endpoints.models import ANSWERED_HEADER, LISTINGS, MISSING_HEADER

pytestmark = pytest.mark.timeout(120)
WAIT = 3.0  # models_seconds: how long the mute backend is waited for


def answer(request: RawRequest) -> bytes | RawReply | None:
    if request.path == "/mute/v1/models":
        return None  # never answers
    if request.path == "/listing/v1/models":
        return raw_quirks.models_listing("local-llama", "gpt-4o")
    if request.path.endswith("/chat/completions"):
        return raw_quirks.json_answer(200, {"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                                            "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                                "role": "assistant", "content": "hi"}}],
                                            "usage": {"prompt_tokens": 1, "completion_tokens": 1,
                                                      "total_tokens": 2}})
    return raw_quirks.json_answer(404, {"error": {"message": "no", "type": "invalid_request_error"}})


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, RawUpstream]]:
    with Threaded(RawUpstream(answer, prefix=""), name="raw-models") as raw, \
            running_services(tmp_path_factory.mktemp("models") / "home") as services:
        services.add_backend("listing", f"{raw.base_url}/listing/v1", "test-key-listing-0123456789")
        services.add_backend("mute", f"{raw.base_url}/mute/v1", "test-key-mute-0123456789")
        yield services, raw


@pytest.fixture
async def frontend(stack: tuple[Services, RawUpstream]) -> AsyncIterator[TestServer]:
    stack[1].requests.clear()
    config = with_limits(stack[0].config, models_seconds=WAIT, models_cache_seconds=3600.0)
    async with running_frontend(config) as server:
        await wait_for_backends(server, 2)
        yield server


async def listing(server: TestServer) -> tuple[list[dict], dict[str, str]]:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.make_url("/v1/models")) as answer:
            assert answer.status == 200
            return (await answer.json())["data"], dict(answer.headers)


def asked(raw: RawUpstream, path: str) -> int:
    return sum(request.path == path for request in raw.requests)


async def test_a_backend_that_never_answers_is_left_out_and_asked_once(
        frontend: TestServer, stack: tuple[Services, RawUpstream]) -> None:
    data, headers = await listing(frontend)
    owners = {item["id"]: item["owned_by"] for item in data}
    assert owners["local-llama"] == "listing" and owners["gpt-4o"] == "listing"
    assert (headers[ANSWERED_HEADER], headers[MISSING_HEADER]) == ("listing", "mute")
    assert "opus" not in owners  # an alias of an anthropic model: no anthropic backend, so nothing serves it
    again, _ = await listing(frontend)
    assert again == data
    assert asked(stack[1], "/mute/v1/models") == 1 and asked(stack[1], "/listing/v1/models") == 1


async def test_an_old_listing_is_served_while_it_is_asked_again(stack: tuple[Services, RawUpstream]) -> None:
    stack[1].requests.clear()
    config = with_limits(stack[0].config, models_seconds=WAIT, models_cache_seconds=0.001)
    async with running_frontend(config) as server:
        await wait_for_backends(server, 2)
        first, _ = await listing(server)  # waits for the mute backend (at most WAIT)
        second, _ = await listing(server)  # old already: served as it was, a refresh started behind it
        assert second == first
        refreshing = server.app[LISTINGS].refreshing
        assert any(name == "mute" for name, _ in refreshing)  # still waiting for the mute one: not for us


async def test_a_model_a_backend_lists_routes_to_it_even_before_any_listing(
        frontend: TestServer, stack: tuple[Services, RawUpstream]) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(frontend.make_url("/v1/chat/completions"), json={
                "model": "local-llama", "messages": [{"role": "user", "content": "hi"}]}) as answer:
            assert answer.status == 200, await answer.text()
    assert stack[1].requests[-1].path == "/listing/v1/chat/completions"


async def test_a_model_nothing_routes_is_a_404_naming_the_backends_there_are(frontend: TestServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(frontend.make_url("/v1/chat/completions"), json={
                "model": "unknown-x", "messages": [{"role": "user", "content": "hi"}]}) as answer:
            status, document = answer.status, json.loads(await answer.read())
    message = document["error"]["message"]
    assert status == 404 and "no backend (listing, mute) lists it" in message
    assert "[[routes]] rule" in message and "dario backend add" not in message
