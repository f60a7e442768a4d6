"""Failover before the first byte (issue 16): until the first token the client has nothing (not even its response
headers), so an upstream that fails then is replaced by the backend's next credential: a 500 or 429 at the start,
a stream that sends its preamble and then nothing (the route's first_token_seconds), one cut before its first
token, one whose first meaningful event is an in-band overload. Each for every pair of client and upstream API."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from dario.testing import raw_quirks as quirks
from dario.testing.raw_quirks import RawRequest, RawUpstream
from dario.testing.stack import Services
from tests.integration.conftest import async_analytics_rows
from tests.integration.quirk_stack import (
    ALL_PAIRS,
    SOLO,
    SOLO_FALLING_BACK,
    SOLO_MODEL,
    Reply,
    Switch,
    ends_cleanly,
    pair_id,
    post,
    quirk_frontend,
    quirk_stack,
    terminal_error,
)

pytestmark = pytest.mark.timeout(120)
FIRST_TOKEN, STALL = 1.5, 1.0  # the routes' own first_token_seconds and stall_seconds
FAILURES = ["status500", "status429", "silent", "cut", "in_band"]


@pytest.fixture(scope="module")
def switch() -> Switch:
    return Switch()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, switch: Switch) -> Iterator[tuple[Services, RawUpstream]]:
    home = tmp_path_factory.mktemp("failover") / "home"
    deadlines = f"first_token_seconds = {FIRST_TOKEN}\nstall_seconds = {STALL}"
    with quirk_stack(home, switch, spares=True, rule_extra=deadlines) as started:
        yield started


@pytest.fixture
async def frontend(stack: tuple[Services, RawUpstream]) -> AsyncIterator[TestServer]:
    stack[1].requests.clear()
    async with quirk_frontend(stack) as server:
        yield server


def first_fails(how: str) -> Reply:
    """The first request fails (`how`), every later one gets a whole stream."""
    count = itertools.count()

    def reply(kind: str, request: RawRequest) -> bytes | quirks.RawReply | None:
        return quirks.failing_before_first_token(how, kind) if next(count) == 0 else quirks.whole_stream(kind)
    return reply


@pytest.mark.parametrize("how", FAILURES)
@pytest.mark.parametrize("pair", ALL_PAIRS, ids=pair_id)
async def test_a_failure_before_the_first_token_fails_over_to_the_next_credential(
        frontend: TestServer, stack: tuple[Services, RawUpstream], switch: Switch, pair: tuple[str, str],
        how: str) -> None:
    client, upstream = pair
    switch.reply = first_fails(how)
    status, body, request_id, content_type = await post(frontend, client, upstream)
    assert (status, content_type) == (200, "text/event-stream"), body[:300]
    ends_cleanly(client, body)
    keys = [request.key for request in stack[1].requests]
    assert len(keys) == 2 and keys[0] != keys[1]  # the other credential served
    row = (await async_analytics_rows(stack[0].home, [request_id]))[request_id]
    assert (row["status"], row["error_type"], row["attempts"]) == (200, "", 2)
    assert re.fullmatch(r"(first|second):\S+", row["failover"]), row["failover"]
    assert row["bytes_sent"] == len(body)


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=pair_id)
async def test_when_every_credential_misses_the_first_token_deadline_the_client_gets_a_504_in_its_format(
        frontend: TestServer, stack: tuple[Services, RawUpstream], switch: Switch, pair: tuple[str, str]) -> None:
    client, upstream = pair
    switch.reply = lambda kind, request: quirks.failing_before_first_token("silent", kind)
    status, body, request_id, content_type = await post(frontend, client, upstream)
    assert (status, content_type) == (504, "application/json")
    document = json.loads(body)
    if client == "anthropic":
        assert document["type"] == "error" and document["error"]["type"] == "timeout_error"
    message = document["error"]["message"]
    assert f"{FIRST_TOKEN:g}s (first_token_seconds of the [[routes]] rule at config.toml line" in message
    assert len(stack[1].requests) == 2
    row = (await async_analytics_rows(stack[0].home, [request_id]))[request_id]
    assert (row["status"], row["error_type"], row["attempts"], row["bytes_sent"]) == (504, "upstream_timeout", 2, 0)


async def failovers(server: TestServer, backend: str) -> float:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.make_url("/metrics")) as answer:
            text = await answer.text()
    found = re.search(rf'^dario_failovers_total{{backend="{backend}"}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_a_500_of_a_backends_only_credential_is_no_failover(frontend: TestServer,
                                                                   stack: tuple[Services, RawUpstream],
                                                                   switch: Switch) -> None:
    switch.reply = lambda kind, request: quirks.error_status(500, kind)
    status, _, request_id, _ = await post(frontend, "openai", "openai", model=SOLO_MODEL)
    assert status == 500
    row = (await async_analytics_rows(stack[0].home, [request_id]))[request_id]
    assert (row["attempts"], row["failover"]) == (1, "only:500")
    assert await failovers(frontend, SOLO) == 0
    switch.reply = first_fails("status500")
    status, *_ = await post(frontend, "openai", "openai")
    assert status == 200 and await failovers(frontend, "rawchat") == 1


@pytest.mark.parametrize("how", ["cut", "in_band"])
@pytest.mark.parametrize("client", ["openai", "anthropic", "responses"])
async def test_a_stream_failing_before_its_first_token_on_a_lone_credential_goes_to_the_fallback(
        frontend: TestServer, stack: tuple[Services, RawUpstream], switch: Switch, client: str, how: str) -> None:
    switch.reply = first_fails(how)
    status, body, request_id, _ = await post(frontend, client, "openai", model=SOLO_FALLING_BACK)
    assert status == 200, body[:300]
    ends_cleanly(client, body)
    assert [request.key.split("-")[2] for request in stack[1].requests] == ["rawsolo", "rawchat"]
    row = (await async_analytics_rows(stack[0].home, [request_id]))[request_id]
    assert (row["status"], row["backend"], row["fallback_from"], row["attempts"]) == (200, "rawchat", SOLO, 2)


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=pair_id)
async def test_after_the_first_token_the_routes_stall_deadline_ends_the_stream_in_its_api(
        frontend: TestServer, stack: tuple[Services, RawUpstream], switch: Switch, pair: tuple[str, str]) -> None:
    client, upstream = pair

    def first_token_then_silence(kind: str, request: RawRequest) -> quirks.RawReply:
        start = quirks.through_first_token(kind, quirks.STREAMS[kind]("Hello there"))
        return quirks.RawReply(quirks.stream_head() + quirks.chunk(start), hold=True)
    switch.reply = first_token_then_silence
    status, body, request_id, _ = await post(frontend, client, upstream)
    assert status == 200
    message = terminal_error(client, body)["message"]
    assert f"{STALL:g}s (stall_seconds of the [[routes]] rule at config.toml line" in message, message
    assert len(stack[1].requests) == 1  # after the first byte there is no failover
    row = (await async_analytics_rows(stack[0].home, [request_id]))[request_id]
    assert (row["status"], row["error_type"], row["bytes_sent"]) == (504, "upstream_stalled", len(body))
