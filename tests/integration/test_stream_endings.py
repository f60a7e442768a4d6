"""Streams that never end silently (issue 16): an upstream cut right after its last event is a delivered answer
(nothing follows `[DONE]`, recorded as a success); a chunked body whose framing breaks ends the client's stream
at once with the API's own terminal error, recorded as `upstream_stream_broken` with the bytes delivered."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anthropic
import openai
import pytest
from aiohttp.test_utils import TestServer

from dario.testing import raw_quirks as quirks
from dario.testing.raw_quirks import RawUpstream
from dario.testing.stack import Services
from tests.integration.conftest import async_analytics_rows
from tests.integration.quirk_stack import (
    ALL_PAIRS,
    NATIVE,
    Switch,
    ends_cleanly,
    pair_id,
    post,
    quirk_frontend,
    quirk_stack,
    terminal_error,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def switch() -> Switch:
    return Switch()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, switch: Switch) -> Iterator[tuple[Services, RawUpstream]]:
    with quirk_stack(tmp_path_factory.mktemp("endings") / "home", switch) as started:
        yield started


@pytest.fixture
async def frontend(stack: tuple[Services, RawUpstream]) -> AsyncIterator[TestServer]:
    async with quirk_frontend(stack) as server:
        yield server


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=pair_id)
async def test_a_connection_cut_after_the_last_event_is_a_delivered_answer(
        frontend: TestServer, stack: tuple[Services, RawUpstream], switch: Switch, pair: tuple[str, str]) -> None:
    client, upstream = pair
    switch.reply = lambda kind, request: quirks.cut_after_done(kind)
    status, body, request_id, _ = await post(frontend, client, upstream)
    assert status == 200
    ends_cleanly(client, body)
    row = (await async_analytics_rows(stack[0].home, [request_id]))[request_id]
    assert (row["status"], row["error_type"]) == (200, "")


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=pair_id)
async def test_broken_chunked_framing_after_the_first_token_ends_the_stream_with_the_terminal_error(
        frontend: TestServer, stack: tuple[Services, RawUpstream], switch: Switch, pair: tuple[str, str]) -> None:
    client, upstream = pair
    # The events up to the first token, then a chunk size line that is not one (and the upstream never closes).
    start = quirks.through_first_token(upstream, quirks.STREAMS[upstream]("Hello there"))
    switch.reply = lambda kind, request: quirks.broken_framing(kind, start)
    status, body, request_id, _ = await post(frontend, client, upstream)
    assert status == 200
    error = terminal_error(client, body)
    assert "ended the stream prematurely" in error["message"]
    row = (await async_analytics_rows(stack[0].home, [request_id]))[request_id]
    assert (row["status"], row["error_type"]) == (502, "upstream_stream_broken")
    assert row["bytes_sent"] == len(body)


@pytest.mark.parametrize("pair", NATIVE, ids=pair_id)
async def test_a_whole_stream_records_the_bytes_it_sent(frontend: TestServer, stack: tuple[Services, RawUpstream],
                                                        switch: Switch, pair: tuple[str, str]) -> None:
    client, upstream = pair
    switch.reply = lambda kind, request: quirks.stream_head() + quirks.chunk(quirks.STREAMS[kind]()) + quirks.LAST_CHUNK
    status, body, request_id, _ = await post(frontend, client, upstream)
    assert status == 200
    ends_cleanly(client, body)
    row = (await async_analytics_rows(stack[0].home, [request_id]))[request_id]
    assert (row["status"], row["error_type"], row["bytes_sent"]) == (200, "", len(body))


async def test_the_sdks_raise_on_a_stream_broken_after_its_first_token(frontend: TestServer,
                                                                      switch: Switch) -> None:
    """What the users' own clients make of it: an error raised, never a short answer taken as whole."""

    def broken(kind: str, request: object) -> quirks.RawReply:
        return quirks.broken_framing(kind, quirks.through_first_token(kind, quirks.STREAMS[kind]("Hello there")))
    switch.reply = broken
    base = str(frontend.make_url(""))
    chat = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key="dario", max_retries=0)
    with pytest.raises(openai.APIError, match="ended the stream prematurely"):
        async for _ in await chat.chat.completions.create(model="chat-m", stream=True,
                                                          messages=[{"role": "user", "content": "hi"}]):
            pass
    messages = anthropic.AsyncAnthropic(base_url=base, api_key="dario", max_retries=0)
    for model in ("claude-m", "chat-m"):  # native, and translated from Chat Completions
        with pytest.raises(anthropic.APIStatusError, match="ended the stream prematurely"):
            async with messages.messages.stream(model=model, max_tokens=50,
                                                messages=[{"role": "user", "content": "hi"}]) as stream:
                await stream.get_final_message()
    kinds = []
    async for event in await chat.responses.create(model="resp-m", input="hi", stream=True):
        kinds.append(event.type)
    assert kinds[-2:] == ["error", "response.failed"]
