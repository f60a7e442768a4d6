"""Fuzzed bodies POSTed to the real frontend and services: never a 500, errors in the API's format, a request id.

Models route natively (gpt-* to an openai backend, claude-* to an anthropic one), translated (the other way
round) or nowhere (404). Hypothesis runs in a worker thread; each example is one real HTTP request on the loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDictProxy

from dario.testing.scripted_upstream import Script, ScriptedUpstream
from dario.testing.stack import Services, running_frontend, running_services, wait_for_backends
from dario.testing.threaded import Threaded
from tests.unit.frontend.translate.test_fuzz_streams import anthropic_client_events, openai_client_events
from tests.unit.frontend.translate.test_fuzz_translation import CHAT_DOCUMENT, JSON, MESSAGES_DOCUMENT

pytestmark = pytest.mark.timeout(240)
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CHAT, MESSAGES, COUNT = "/v1/chat/completions", "/v1/messages", "/v1/messages/count_tokens"
API_OF = {CHAT: "openai", MESSAGES: "anthropic", COUNT: "anthropic"}
JSON_TYPE = {"content-type": "application/json"}
MODELS = st.sampled_from(["gpt-4o", "claude-sonnet-4-5", "claude-opus-5", "mystery-model"])


class TolerantUpstream(ScriptedUpstream):
    """The scripted upstream, reading only what it needs of a request: native bodies reach it as the client
    wrote them, and a real provider answers a malformed one with a 400, not a crash of the test double."""

    @staticmethod
    def _question(body: bytes, script: Script) -> tuple[dict, str, str]:
        document = json.loads(body)
        options = document.get("stream_options")
        needed = {"stream": document.get("stream") is True,
                  "stream_options": options if isinstance(options, dict) else {}}
        model = document.get("model")
        return needed, model if isinstance(model, str) else "unknown", script.content or "fuzzed ☃ answer"


@pytest.fixture(scope="module")
def tolerant_upstream() -> Iterator[ScriptedUpstream]:
    with Threaded(TolerantUpstream(), name="tolerant-upstream") as running:
        yield running


@pytest.fixture(scope="module")
def fuzz_services(tmp_path_factory: pytest.TempPathFactory, tolerant_upstream: ScriptedUpstream) -> Iterator[Services]:
    with running_services(tmp_path_factory.mktemp("fuzz") / "home") as started:
        started.add_backend("gpt", tolerant_upstream.base_url, "test-key-openai-0123456789", kind="openai")
        started.add_backend("claude", tolerant_upstream.base_url, "test-key-anthropic-0123456789", kind="anthropic")
        yield started


@pytest.fixture
async def frontend(fuzz_services: Services) -> AsyncIterator[TestServer]:
    async with running_frontend(fuzz_services.config) as server:
        await wait_for_backends(server, 2)
        yield server


Send = Callable[[str, bytes], tuple[int, bytes, CIMultiDictProxy]]
Case = TypeVar("Case")


async def fuzz(server: TestServer, strategy: st.SearchStrategy[Case], check: Callable[[Send, Case], None]) -> None:
    """Runs hypothesis in a worker thread; each example posts through the test's own event loop."""
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:

        async def post(path: str, body: bytes) -> tuple[int, bytes, CIMultiDictProxy]:
            async with session.post(server.make_url(path), data=body,
                                    headers={"content-type": "application/json"}) as answer:
                return answer.status, await answer.read(), answer.headers

        def send(path: str, body: bytes) -> tuple[int, bytes, CIMultiDictProxy]:
            return asyncio.run_coroutine_threadsafe(post(path, body), loop).result(60)

        @FUZZ
        @given(strategy)
        def run(case: Case) -> None:
            check(send, case)

        await asyncio.to_thread(run)


def assert_answered_as_meant(path: str, status: int, body: bytes, headers: CIMultiDictProxy) -> None:
    """No 500 (nor any 5xx: the upstream is healthy), a request id, and a body the client's SDK can read."""
    assert status < 500, f"{path} answered {status}: {body[:500]!r}"
    assert headers.get("request-id", "").startswith("req_")
    if status >= 400:
        document = json.loads(body)
        if API_OF[path] == "openai":
            error = document["error"]
            assert set(error) == {"message", "type", "param", "code"}
        else:
            assert document["type"] == "error"
            error = document["error"]
        assert isinstance(error["message"], str) and error["message"] and isinstance(error["type"], str)
    elif headers.get("content-type", "").startswith("text/event-stream"):
        (openai_client_events if API_OF[path] == "openai" else anthropic_client_events)(body)
    else:
        assert isinstance(json.loads(body), dict)


def post_and_check(send: Send, path: str, body: bytes) -> None:
    assert_answered_as_meant(path, *send(path, body))


def with_model(document: object, model: str) -> bytes:
    if isinstance(document, dict) and isinstance(document.get("model"), str):
        document = dict(document, model=model)
    return json.dumps(document).encode()


async def test_hostile_chat_requests_are_never_a_500(frontend: TestServer) -> None:
    await fuzz(frontend, st.tuples(CHAT_DOCUMENT, MODELS),
               lambda send, case: post_and_check(send, CHAT, with_model(*case)))


async def test_hostile_messages_requests_are_never_a_500(frontend: TestServer) -> None:
    await fuzz(frontend, st.tuples(MESSAGES_DOCUMENT, MODELS),
               lambda send, case: post_and_check(send, MESSAGES, with_model(*case)))


async def test_hostile_count_tokens_requests_are_never_a_500(frontend: TestServer) -> None:
    await fuzz(frontend, st.tuples(MESSAGES_DOCUMENT, MODELS),
               lambda send, case: post_and_check(send, COUNT, with_model(*case)))


ANY_BODY = st.one_of(
    st.binary(max_size=64),
    JSON.map(lambda value: json.dumps(value).encode()),
    st.tuples(st.dictionaries(st.sampled_from(["messages", "max_tokens", "stream", "tools", "system"]), JSON),
              MODELS).map(lambda pair: json.dumps(dict(pair[0], model=pair[1])).encode()),
)


async def test_any_body_on_any_endpoint_is_never_a_500(frontend: TestServer) -> None:
    def check(send: Send, body: bytes) -> None:
        for path in (CHAT, MESSAGES, COUNT):
            post_and_check(send, path, body)

    await fuzz(frontend, ANY_BODY, check)


# Found by fuzzing: bodies that once made dario answer 500.
SURROGATE = b'"\\ud800"'
DEPTHS = [100, 800, 900, 950, 970, 980, 990, 995, 1000, 5000, 100_000]


def nested_bodies(model: str) -> Iterator[tuple[str, bytes]]:
    """The same deep value in each place a translator or the proxy walks: content, a tool schema, an id."""
    for depth in DEPTHS:
        value = b"[" * depth + b"1" + b"]" * depth
        yield CHAT, b'{"model":"%s","messages":[{"role":"user","content":%s}]}' % (model.encode(), value)
        yield CHAT, b'{"model":"%s","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function",' \
                    b'"function":{"name":"f","parameters":%s}}]}' % (model.encode(), value)
        yield CHAT, b'{"model":"%s","messages":[{"role":"%s"}]}' % (model.encode(), value)
        yield MESSAGES, b'{"model":"%s","max_tokens":5,"messages":[{"role":"user","content":"x"}],' \
                        b'"metadata":{"user_id":%s}}' % (model.encode(), value)
        yield MESSAGES, b'{"model":"%s","max_tokens":5,"messages":[{"role":"assistant","content":[' \
                        b'{"type":"tool_use","id":"t","name":"f","input":{"a":%s}}]}]}' % (model.encode(), value)


@pytest.mark.parametrize("model", ["gpt-4o", "claude-sonnet-4-5"])
async def test_deeply_nested_json_is_a_400_or_served_never_a_500(frontend: TestServer, model: str) -> None:
    async with aiohttp.ClientSession() as session:
        for path, body in nested_bodies(model):
            async with session.post(frontend.make_url(path), data=body, headers=JSON_TYPE) as answer:
                assert_answered_as_meant(path, answer.status, await answer.read(), answer.headers)


@pytest.mark.parametrize("path", [CHAT, MESSAGES, COUNT])
@pytest.mark.parametrize("model", ["gpt-4o", "claude-sonnet-4-5"])
async def test_a_lone_surrogate_is_a_400_on_every_route(frontend: TestServer, path: str, model: str) -> None:
    body = b'{"model":"%s","max_tokens":5,"messages":[{"role":"user","content":%s}]}' % (model.encode(), SURROGATE)
    async with aiohttp.ClientSession() as session:
        async with session.post(frontend.make_url(path), data=body, headers=JSON_TYPE) as answer:
            content = await answer.read()
            assert_answered_as_meant(path, answer.status, content, answer.headers)
            assert answer.status == 400 and b"surrogate" in content


@pytest.mark.parametrize(("path", "model", "body"), [
    (CHAT, "claude-sonnet-4-5", {"messages": [{"role": "assistant", "content": "x", "tool_calls": 5}]}),
    (CHAT, "claude-sonnet-4-5", {"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}),
    (CHAT, "claude-sonnet-4-5", {"messages": [{"role": "user", "content": "x"}], "tools": [
        {"type": "function", "function": "f"}]}),
    (MESSAGES, "gpt-4o", {"max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}),
    (MESSAGES, "gpt-4o", {"max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "metadata": "m"}),
])
async def test_wrong_types_on_the_translated_path_are_400s_naming_the_field(
    frontend: TestServer, path: str, model: str, body: dict
) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(frontend.make_url(path), json=dict(body, model=model)) as answer:
            content = await answer.read()
            assert_answered_as_meant(path, answer.status, content, answer.headers)
            assert answer.status == 400
