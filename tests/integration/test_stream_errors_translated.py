"""Translated streams that do not end as answers (issue 16), against a scripted upstream with each server's quirk:
the client gets its own API's error event, never a clean empty end, and analytics records an error."""

from __future__ import annotations

import json

import aiohttp
import anthropic
import pytest
from aiohttp.test_utils import TestServer
from anthropic.types import ToolParam

from dario.testing import chat_quirks
from dario.testing.scripted_upstream import Script, ScriptedUpstream
from dario.testing.stack import Services
from frontend.translate.sse import SseParser
from tests.integration.conftest import async_analytics_rows

pytestmark = pytest.mark.timeout(120)
MODEL = "gpt-4o-mini"  # served by the openai backend "gpt" of both_kinds
QUESTION = [{"role": "user", "content": "Tell me about Paris."}]
CONTEXT_ERROR = {"message": "This model's maximum context length is 8192 tokens.", "type": "invalid_request_error",
                 "param": "messages", "code": "context_length_exceeded"}
WEATHER_TOOL: ToolParam = {"name": "get_weather", "description": "weather", "input_schema": {
    "type": "object", "properties": {"city": {"type": "string"}}}}


async def post_stream(server: TestServer, path: str, body: dict) -> tuple[int, list[tuple[str, dict]], str]:
    """Status, the (event name, data) of a streamed answer, and its request id."""
    async with aiohttp.ClientSession() as session:
        async with session.post(server.make_url(path), json={**body, "stream": True}) as answer:
            events = SseParser().feed(await answer.read())
            return answer.status, [(event.name, json.loads(event.data)) for event in events], \
                answer.headers["request-id"]


@pytest.mark.parametrize("split", [{}, {"split": 1}, {"seed_split": 5}])
async def test_a_done_without_finish_reason_reaches_anthropic_clients_as_an_error(
        both_kinds_frontend: TestServer, upstream: ScriptedUpstream, both_kinds: Services, split: dict) -> None:
    upstream.push(Script(content="Paris is a city.", rewrite=chat_quirks.without_finish_reason, **split))
    status, events, request_id = await post_stream(both_kinds_frontend, "/v1/messages",
                                                   {"model": MODEL, "max_tokens": 50, "messages": QUESTION})
    names = [name for name, _ in events]
    assert status == 200 and names[0] == "message_start" and names[-1] == "error" and "message_stop" not in names
    row = (await async_analytics_rows(both_kinds.home, [request_id]))[request_id]
    assert (row["status"], row["error_type"]) == (502, "upstream_stream_broken")


async def test_the_anthropic_sdk_raises_on_a_cut_instead_of_returning_an_empty_answer(
        both_kinds_frontend: TestServer, upstream: ScriptedUpstream) -> None:
    upstream.push(Script(content="Paris is a city.", rewrite=chat_quirks.without_finish_reason))
    client = anthropic.AsyncAnthropic(base_url=str(both_kinds_frontend.make_url("")), api_key="d", max_retries=0)
    with pytest.raises(anthropic.APIStatusError, match="cut off"):
        async with client.messages.stream(model=MODEL, max_tokens=50, messages=QUESTION) as stream:
            await stream.get_final_message()


async def test_an_in_band_context_overflow_reaches_anthropic_clients_as_invalid_request(
        both_kinds_frontend: TestServer, upstream: ScriptedUpstream, both_kinds: Services) -> None:
    upstream.push(Script(content="Paris is a city of light.", rewrite=chat_quirks.error_after(3, CONTEXT_ERROR)))
    status, events, request_id = await post_stream(both_kinds_frontend, "/v1/messages",
                                                   {"model": MODEL, "max_tokens": 50, "messages": QUESTION})
    name, error = events[-1]
    assert status == 200 and name == "error"
    assert error["error"]["type"] == "invalid_request_error" and error["error"]["message"].startswith(
        "prompt is too long")
    row = (await async_analytics_rows(both_kinds.home, [request_id]))[request_id]
    assert (row["status"], row["error_type"]) == (400, "upstream_error")


async def test_an_in_band_context_overflow_fails_a_responses_stream_with_its_code(
        both_kinds_frontend: TestServer, upstream: ScriptedUpstream, both_kinds: Services) -> None:
    upstream.push(Script(content="Paris is a city of light.", rewrite=chat_quirks.error_after(3, CONTEXT_ERROR)))
    status, events, request_id = await post_stream(both_kinds_frontend, "/v1/responses",
                                                   {"model": MODEL, "input": "Tell me about Paris."})
    assert status == 200 and [name for name, _ in events[-2:]] == ["error", "response.failed"]
    assert events[-1][1]["response"]["error"]["code"] == "context_length_exceeded"
    row = (await async_analytics_rows(both_kinds.home, [request_id]))[request_id]
    assert (row["status"], row["error_type"]) == (400, "upstream_error")


async def test_a_stream_cut_by_the_upstream_is_recorded_as_broken(
        both_kinds_frontend: TestServer, upstream: ScriptedUpstream, both_kinds: Services) -> None:
    # Cut after the first tokens (a cut before the first token is an error answer: it may fail over, issue 16).
    upstream.push(Script(content="Paris is a city of light and of many other things. " * 5, break_after=1000))
    status, events, request_id = await post_stream(both_kinds_frontend, "/v1/messages",
                                                   {"model": MODEL, "max_tokens": 50, "messages": QUESTION})
    assert status == 200 and events[-1][0] == "error"
    row = (await async_analytics_rows(both_kinds.home, [request_id]))[request_id]
    assert row["status"] >= 500 and row["error_type"].startswith("upstream_")


async def test_a_function_name_repeated_in_every_delta_reaches_the_client_once(
        both_kinds_frontend: TestServer, upstream: ScriptedUpstream) -> None:
    upstream.push(Script(content="", tools=[("get_weather", {"city": "Paris"})], split=1,
                         rewrite=chat_quirks.function_name_in_every_delta))
    client = anthropic.AsyncAnthropic(base_url=str(both_kinds_frontend.make_url("")), api_key="d", max_retries=0)
    async with client.messages.stream(model=MODEL, max_tokens=50, messages=QUESTION, tools=[WEATHER_TOOL]) as stream:
        final = await stream.get_final_message()
    assert [(block.name, block.input) for block in final.content if block.type == "tool_use"] == [
        ("get_weather", {"city": "Paris"})]
    assert final.stop_reason == "tool_use"
