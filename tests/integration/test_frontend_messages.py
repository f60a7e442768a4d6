"""/v1/messages passed natively to an anthropic backend: the official anthropic SDK, streams, errors, analytics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import anthropic
import pytest
from aiohttp.test_utils import TestServer

from dario.testing.scripted_upstream import Script, ScriptedUpstream
from dario.testing.stack import Services, running_frontend, running_services, wait_for_backends
from tests.integration.conftest import async_analytics_rows

pytestmark = pytest.mark.timeout(120)
KEY = "test-key-anthropic-0123456789"
UNICODE = "héllo wörld ☃ 🚀 — ünïcödé"
MESSAGES = [{"role": "user", "content": "Say hello"}]


@pytest.fixture(scope="module")
def anthropic_services(tmp_path_factory: pytest.TempPathFactory, upstream: ScriptedUpstream) -> Iterator[Services]:
    with running_services(tmp_path_factory.mktemp("messages") / "home") as started:
        started.add_backend("claude", upstream.base_url, KEY, kind="anthropic")
        started.add_backend("gpt", upstream.base_url, "test-key-openai-0123456789", kind="openai")
        yield started


@pytest.fixture
async def frontend(anthropic_services: Services, upstream: ScriptedUpstream) -> AsyncIterator[TestServer]:
    upstream.scripts.clear()
    async with running_frontend(anthropic_services.config) as server:
        await wait_for_backends(server, 2)
        yield server


def client(server: TestServer) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=str(server.make_url("")), api_key="dario", max_retries=0)


async def test_non_streaming_message_reaches_the_anthropic_sdk(frontend: TestServer, upstream: ScriptedUpstream,
                                                              anthropic_services: Services) -> None:
    upstream.push(Script(content=UNICODE))
    raw = await client(frontend).messages.with_raw_response.create(
        model="claude-sonnet-5-5", max_tokens=100, messages=MESSAGES)
    message = await raw.parse()
    assert message.content[0].text == UNICODE and message.stop_reason == "end_turn"
    assert raw.headers["x-dario-backend"] == "claude"
    assert raw.headers["anthropic-ratelimit-requests-limit"] == "4000"
    sent = upstream.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == KEY and "Authorization" not in sent.headers
    assert sent.headers["anthropic-version"]  # the SDK's own version is passed on
    request_id = raw.headers["request-id"]
    row = (await async_analytics_rows(anthropic_services.home, [request_id]))[request_id]
    assert row["api_format"] == "anthropic" and row["backend"] == "claude" and row["status"] == 200
    assert (row["input_tokens"], row["output_tokens"]) == (message.usage.input_tokens, message.usage.output_tokens)


@pytest.mark.parametrize("split", [1, 5, None])
async def test_streamed_message_accumulates_to_the_same_answer(frontend: TestServer, upstream: ScriptedUpstream,
                                                             anthropic_services: Services, split: int | None) -> None:
    upstream.push(Script(content=UNICODE, split=split))
    async with client(frontend).messages.stream(model="claude-sonnet-5-5", max_tokens=100,
                                                messages=MESSAGES) as stream:
        final = await stream.get_final_message()
        request_id = stream.response.headers["request-id"]
    assert final.content[0].text == UNICODE and final.stop_reason == "end_turn"
    row = (await async_analytics_rows(anthropic_services.home, [request_id]))[request_id]
    assert row["stream"] == 1 and row["status"] == 200
    assert (row["input_tokens"], row["output_tokens"]) == (final.usage.input_tokens, final.usage.output_tokens)


async def test_version_defaults_and_beta_headers_and_query_pass_through(frontend: TestServer,
                                                                       upstream: ScriptedUpstream) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(frontend.make_url("/v1/messages?beta=true"),
                                json={"model": "claude-sonnet-5-5", "max_tokens": 10, "messages": MESSAGES},
                                headers={"anthropic-beta": "context-management-2025-06-27,oauth-2025-04-20",
                                         "x-api-key": "client-own-key"}) as answer:
            assert answer.status == 200
    sent = upstream.requests[-1]
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["anthropic-beta"] == "context-management-2025-06-27,oauth-2025-04-20"
    assert sent.headers["x-api-key"] == KEY
    assert sent.path == "/v1/messages" and sent.query == "beta=true"


@pytest.mark.parametrize(("status", "exception"), [(429, anthropic.RateLimitError), (529, anthropic.OverloadedError),
                                                   (401, anthropic.AuthenticationError)])
async def test_upstream_errors_pass_through_in_the_anthropic_shape(
        frontend: TestServer, upstream: ScriptedUpstream, status: int, exception: type[anthropic.APIStatusError],
) -> None:
    upstream.push(Script(status=status))
    with pytest.raises(exception) as caught:
        await client(frontend).messages.create(model="claude-sonnet-5-5", max_tokens=10, messages=MESSAGES)
    assert caught.value.status_code == status
    assert caught.value.body["type"] == "error"


async def test_stream_that_breaks_off_ends_with_an_error_event(frontend: TestServer, upstream: ScriptedUpstream,
                                                              anthropic_services: Services) -> None:
    upstream.push(Script(content=UNICODE * 10, split=11, break_after=900))
    with pytest.raises(anthropic.APIError, match="ended the stream prematurely"):
        async with client(frontend).messages.stream(model="claude-sonnet-5-5", max_tokens=100,
                                                    messages=MESSAGES) as stream:
            async for _ in stream:
                pass


@pytest.mark.parametrize(
    ("body", "status", "error_type", "needle"),
    [
        (b'{"model":"mystery","max_tokens":5,"messages":[{"role":"user","content":"x"}]}', 404, "not_found_error",
         "mystery"),
        (b'{"model":"claude-sonnet-5-5","messages":[{"role":"user","content":"x"}]}', 400, "invalid_request_error",
         "max_tokens"),
        (b"{broken", 400, "invalid_request_error", "JSON"),
        (b'{"model":"gpt-4o","max_tokens":5,"messages":[{"role":"user","content":"x"}],'
         b'"tools":[{"type":"web_search_20250305","name":"web_search"}]}', 400, "invalid_request_error", "tools[0]"),
    ],
)
async def test_dario_errors_on_messages_use_the_anthropic_shape(frontend: TestServer, body: bytes, status: int,
                                                               error_type: str, needle: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(frontend.make_url("/v1/messages"), data=body,
                                headers={"content-type": "application/json"}) as answer:
            document = await answer.json()
            assert answer.status == status
            assert answer.headers["request-id"].startswith("req_")
    assert document["type"] == "error" and document["error"]["type"] == error_type
    assert needle in document["error"]["message"]


async def test_count_tokens_is_native_on_anthropic_backends(frontend: TestServer, upstream: ScriptedUpstream) -> None:
    counted = await client(frontend).messages.count_tokens(model="claude-sonnet-5-5", messages=MESSAGES)
    assert counted.input_tokens > 0
    assert upstream.requests[-1].path == "/v1/messages/count_tokens"


async def test_count_tokens_on_an_openai_backend_is_an_estimate_marked_as_such(frontend: TestServer) -> None:
    async with aiohttp.ClientSession() as session:
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "the quick brown fox jumps " * 20}]}
        async with session.post(frontend.make_url("/v1/messages/count_tokens"), json=body) as answer:
            document = await answer.json()
            assert answer.status == 200 and answer.headers["x-dario-token-count"] == "estimate"
    assert 100 <= document["input_tokens"] <= 115  # five words a repetition, 100 words (translation.md §5.4)
