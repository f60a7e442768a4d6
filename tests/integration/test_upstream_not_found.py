"""An upstream's 404 names the URL dario called (issue 12 item 5): a backend added without the path its API lives
at answers a bare `404: Not Found`; the client gets a 404 in its own API's format saying which URL answered it
(never the query, which may carry a key) and how to check the base URL, the upstream's own message and code kept."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from dario.testing import raw_quirks as quirks
from dario.testing.hostile import request_body
from dario.testing.raw_quirks import RawUpstream
from dario.testing.stack import Services
from tests.integration.quirk_stack import (
    ALL_PAIRS,
    BACKEND_OF,
    MODELS,
    PATHS,
    Switch,
    pair_id,
    quirk_frontend,
    quirk_stack,
)

pytestmark = pytest.mark.timeout(120)
UPSTREAM_PATHS = {"openai": "/chat/completions", "anthropic": "/messages", "responses": "/responses"}


@pytest.fixture(scope="module")
def switch() -> Switch:
    return Switch()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, switch: Switch) -> Iterator[tuple[Services, RawUpstream]]:
    with quirk_stack(tmp_path_factory.mktemp("not-found") / "home", switch) as started:
        yield started


@pytest.fixture
async def frontend(stack: tuple[Services, RawUpstream]) -> AsyncIterator[TestServer]:
    async with quirk_frontend(stack) as server:
        yield server


async def ask(server: TestServer, client: str, upstream: str, stream: bool) -> tuple[int, dict]:
    path = f"{PATHS[client]}?beta=true&api_key=hunter2-secret"
    async with aiohttp.ClientSession() as session:
        async with session.post(server.make_url(path), json=request_body(PATHS[client], MODELS[upstream],
                                                                         stream)) as answer:
            return answer.status, json.loads(await answer.read())


def message_of(client: str, document: dict) -> str:
    if client == "anthropic":
        assert document["type"] == "error" and document["error"]["type"] == "not_found_error"
    else:
        assert document["error"]["type"] == "not_found_error" or document["error"]["type"] == "invalid_request_error"
    return document["error"]["message"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("pair", ALL_PAIRS, ids=pair_id)
async def test_a_bare_404_names_the_url_dario_called_without_its_query(
        frontend: TestServer, stack: tuple[Services, RawUpstream], switch: Switch, pair: tuple[str, str],
        stream: bool) -> None:
    client, upstream = pair
    switch.reply = lambda kind, request: quirks.whole(404, "text/plain", b"404: Not Found")
    status, document = await ask(frontend, client, upstream, stream)
    message = message_of(client, document)
    url = f"{stack[1].base_url}{UPSTREAM_PATHS[upstream]}"
    assert status == 404
    assert f"backend '{BACKEND_OF[upstream]}' answered 404 to POST {url};" in message, message
    assert f"dario backend test {BACKEND_OF[upstream]}" in message
    assert "hunter2" not in json.dumps(document) and "?" not in message


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=pair_id)
async def test_an_upstreams_own_404_message_and_code_are_kept(
        frontend: TestServer, stack: tuple[Services, RawUpstream], switch: Switch, pair: tuple[str, str]) -> None:
    client, upstream = pair
    switch.reply = lambda kind, request: quirks.error_status(404, kind)
    status, document = await ask(frontend, client, upstream, False)
    message = message_of(client, document)
    assert status == 404 and message.endswith(f"`dario backend test {BACKEND_OF[upstream]}`)")
    if upstream != "anthropic":
        assert message.startswith("The model `nope` does not exist. (backend")
        if client != "anthropic":
            assert document["error"]["code"] == "model_not_found"
