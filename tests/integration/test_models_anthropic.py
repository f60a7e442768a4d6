"""GET /v1/models asks Anthropic-kind backends too (issue 16): `GET {base}/v1/models` with the headers a Messages
request gets (the key as x-api-key, anthropic-version), page after page while the answer says `has_more` (at most
MAX_PAGES), all within [limits] models_seconds; a listed model routes to the backend that listed it; a backend
that answers 404 or never answers is named in x-dario-models-missing and the others are listed; the key is never
passed back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from dario.testing import anthropic_wire, raw_quirks
from dario.testing.raw_quirks import RawReply, RawRequest, RawUpstream
from dario.testing.stack import Services, running_frontend, running_services, wait_for_backends, with_limits
from dario.testing.threaded import Threaded
from frontend.endpoints.models import ANSWERED_HEADER, MAX_PAGES, MISSING_HEADER

pytestmark = pytest.mark.timeout(120)
WAIT = 3.0  # models_seconds: how long the mute backend is waited for
PAGED_KEY = "sk-ant-test-paged-0123456789abcdef"
SLASH_KEY = "sk-ant-test-slash-0123456789abcdef"
MUTE_KEY = "sk-ant-test-mute-0123456789abcdef"
GONE_KEY = "sk-ant-test-gone-0123456789abcdef"


def model(name: str) -> dict[str, Any]:
    return {"type": "model", "id": name, "display_name": name.title(), "created_at": "2025-09-29T00:00:00Z"}


def page(names: list[str], has_more: bool) -> bytes:
    return raw_quirks.json_answer(200, {"data": [model(name) for name in names], "has_more": has_more,
                                        "first_id": names[0], "last_id": names[-1]})


def answer(request: RawRequest) -> bytes | RawReply | None:
    after = parse_qs(request.query).get("after_id", [""])[0]
    if request.path == "/paged/v1/models":  # two pages; the second lists a model whose id holds the key it got
        if not after:
            return page(["claude-opus-4-5", "claude-sonnet-4-5"], True)
        if after == "claude-sonnet-4-5":
            return page(["house-tuned", f"claude-echo-{request.key}"], False)
    if request.path == "/slash/v1/models":  # its base URL was given with /v1
        return page(["slash-model"], False)
    if request.path == "/endless/v1/models":  # always one more page
        number = int(after.removeprefix("endless-")) + 1 if after else 0
        return page([f"endless-{number}"], True)
    if request.path == "/mute/v1/models":
        return None  # never answers
    if request.path.endswith("/v1/messages"):
        return raw_quirks.json_answer(200, anthropic_wire.message(request.json["model"], "hi",
                                                                  anthropic_wire.usage(1, 1)))
    return raw_quirks.json_answer(404, anthropic_wire.error_body(404))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, RawUpstream]]:
    with Threaded(RawUpstream(answer, prefix=""), name="raw-anthropic-models") as raw, \
            running_services(tmp_path_factory.mktemp("anthropic-models") / "home") as services:
        services.add_backend("paged", f"{raw.base_url}/paged", PAGED_KEY, kind="anthropic")  # the SDK form
        services.add_backend("slash", f"{raw.base_url}/slash/v1", SLASH_KEY, kind="anthropic")
        services.add_backend("mute", f"{raw.base_url}/mute", MUTE_KEY, kind="anthropic")
        services.add_backend("gone", f"{raw.base_url}/gone", GONE_KEY, kind="anthropic")  # answers 404
        services.add_backend("endless", f"{raw.base_url}/endless", "sk-ant-test-endless-0123456789", kind="anthropic")
        yield services, raw


@pytest.fixture
async def frontend(stack: tuple[Services, RawUpstream]) -> AsyncIterator[TestServer]:
    stack[1].requests.clear()
    config = with_limits(stack[0].config, models_seconds=WAIT, models_cache_seconds=3600.0)
    async with running_frontend(config) as server:
        await wait_for_backends(server, 5)
        yield server


async def listing(server: TestServer) -> tuple[bytes, dict[str, str]]:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.make_url("/v1/models")) as reply:
            assert reply.status == 200
            return await reply.read(), dict(reply.headers)


def models_requests(raw: RawUpstream, path: str) -> list[RawRequest]:
    return [request for request in raw.requests if request.path == path]


async def test_anthropic_backends_are_asked_page_after_page_with_their_key(
        frontend: TestServer, stack: tuple[Services, RawUpstream]) -> None:
    body, headers = await listing(frontend)
    owners = {item["id"]: item["owned_by"] for item in json.loads(body)["data"]}
    assert owners["claude-opus-4-5"] == "paged" and owners["house-tuned"] == "paged"  # both pages
    assert owners["slash-model"] == "slash"
    assert not [name for name in owners if name.startswith("claude-echo-")]  # an id holding the key: left out
    for key in (PAGED_KEY, SLASH_KEY, MUTE_KEY, GONE_KEY):
        assert key not in body.decode() and key not in json.dumps(headers)
    assert headers[ANSWERED_HEADER] == "paged,slash,endless"
    assert headers[MISSING_HEADER] == "mute,gone"  # the one that never answered (WAIT) and the 404
    paged = models_requests(stack[1], "/paged/v1/models")
    assert [parse_qs(request.query) for request in paged] == [
        {"limit": ["1000"]}, {"limit": ["1000"], "after_id": ["claude-sonnet-4-5"]}]
    for request in paged:
        assert request.headers["x-api-key"] == PAGED_KEY and "authorization" not in request.headers
        assert request.headers["anthropic-version"] == "2023-06-01"
    assert models_requests(stack[1], "/slash/v1/models")[0].headers["x-api-key"] == SLASH_KEY
    assert len(models_requests(stack[1], "/mute/v1/models")) == 1
    assert len(models_requests(stack[1], "/endless/v1/models")) == MAX_PAGES  # followed so far, no further
    assert [name for name in owners if name.startswith("endless-")] == [f"endless-{n}" for n in range(MAX_PAGES)]
    again, _ = await listing(frontend)  # cached: nobody asked again
    assert json.loads(again) == json.loads(body)
    assert len(models_requests(stack[1], "/paged/v1/models")) == 2
    assert len(models_requests(stack[1], "/mute/v1/models")) == 1


async def test_a_model_an_anthropic_backend_lists_routes_to_it(
        frontend: TestServer, stack: tuple[Services, RawUpstream]) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(frontend.make_url("/v1/messages"), json={
                "model": "slash-model", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
                headers={"anthropic-version": "2023-06-01"}) as reply:
            assert reply.status == 200, await reply.text()
            assert reply.headers["x-dario-backend"] == "slash"
    sent = stack[1].requests[-1]
    assert sent.path == "/slash/v1/messages" and sent.headers["x-api-key"] == SLASH_KEY
