"""Hostile upstreams (architecture.md, Security): redirects are never followed, echoed keys never reach the client,
and a cut body is never passed on as a whole one."""

from __future__ import annotations

import json
import pathlib
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from dario.testing.hostile import HostileBody, request_body
from dario.testing.scripted_upstream import Script, ScriptedUpstream, ThreadedUpstream
from dario.testing.stack import Services, both_kinds, running_frontend, running_services, wait_for_backends
from tests.integration.conftest import async_analytics_rows

pytestmark = pytest.mark.timeout(120)
OPENAI_KEY, ANTHROPIC_KEY = "test-key-openai-hostile-0123456789", "test-key-anthropic-hostile-0123456789"
KEYS = (OPENAI_KEY, ANTHROPIC_KEY)
# (client path, model): native to an openai backend, native to an anthropic one, translated both ways.
ROUTES = [("/v1/chat/completions", "gpt-4o"), ("/v1/messages", "claude-hostile"),
          ("/v1/messages", "gpt-4o"), ("/v1/chat/completions", "claude-hostile"), ("/v1/responses", "gpt-4o")]


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[ScriptedUpstream]:
    """Where hostile redirects point: it must never hear from dario."""
    with ThreadedUpstream() as running:
        yield running


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, upstream: ScriptedUpstream) -> Iterator[Services]:
    with both_kinds(tmp_path_factory.mktemp("hostile") / "home", upstream.base_url, *KEYS) as started:
        yield started


@pytest.fixture
async def frontend(stack: Services, upstream: ScriptedUpstream) -> AsyncIterator[TestServer]:
    upstream.clear()
    async with running_frontend(stack.config) as server:
        await wait_for_backends(server, 2)
        yield server


async def post(server: TestServer, path: str, body: dict) -> tuple[int, bytes, dict[str, str]]:
    async with aiohttp.ClientSession() as session:
        async with session.post(server.make_url(path), json=body) as answer:
            return answer.status, await answer.read(), dict(answer.headers)


def error_message(path: str, body: bytes) -> dict:
    """The error of a dario answer, checked to have the shape of the API called."""
    document = json.loads(body)
    if path == "/v1/messages":
        assert document["type"] == "error" and set(document["error"]) == {"type", "message"}
        return document["error"]
    assert set(document["error"]) == {"message", "type", "param", "code"}
    return document["error"]


def assert_no_key(*seen: object) -> None:
    text = json.dumps([item.decode(errors="replace") if isinstance(item, bytes) else item for item in seen],
                      ensure_ascii=False)
    for key in KEYS:
        assert key not in text and key[len(key) // 2:] not in text


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize(("path", "model"), ROUTES[:3])
async def test_an_upstream_redirect_is_a_502_and_nothing_goes_to_the_location(
        frontend: TestServer, upstream: ScriptedUpstream, elsewhere: ScriptedUpstream, stack: Services,
        status: int, path: str, model: str) -> None:
    elsewhere.clear()
    upstream.push(Script(status=status, headers={"Location": f"{elsewhere.base_url}/chat/completions?key=stolen"}))
    code, body, headers = await post(frontend, path, request_body(path, model))
    error = error_message(path, body)
    assert code == 502 and f"http://127.0.0.1:{elsewhere.port}" in error["message"]
    backend = "claude-up" if model.startswith("claude") else "gpt-up"
    assert repr(backend) in error["message"] and str(status) in error["message"]
    assert "/chat/completions" not in error["message"] and "stolen" not in error["message"]
    assert elsewhere.requests == [] and len(upstream.requests) == 1  # not followed, not failed over
    assert "x-dario-failover" not in headers
    row = (await async_analytics_rows(stack.home, [headers["request-id"]]))[headers["request-id"]]
    assert (row["status"], row["error_type"]) == (502, "upstream_redirect")


async def test_a_redirecting_models_listing_is_not_followed(frontend: TestServer, upstream: ScriptedUpstream,
                                                            elsewhere: ScriptedUpstream) -> None:
    elsewhere.clear()
    upstream.models_location = f"{elsewhere.base_url}/models"
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(frontend.make_url("/v1/models")) as answer:
                assert answer.status == 200
                listed = {model["id"] for model in (await answer.json())["data"]}
    finally:
        upstream.models_location = None
    assert elsewhere.requests == [] and "gpt-4o-mini" not in listed


@pytest.mark.parametrize(("path", "model"), ROUTES)
async def test_an_echoed_key_in_an_error_never_reaches_the_client(frontend: TestServer, upstream: ScriptedUpstream,
                                                                  path: str, model: str) -> None:
    upstream.push(Script(status=401, echo_key=True))
    code, body, headers = await post(frontend, path, request_body(path, model))
    assert code == 401 and "[REDACTED]" in body.decode()
    assert_no_key(body, headers, json.loads(body))  # json.loads: escapes (\u0074…) decoded
    assert any(key in json.dumps(upstream.requests[-1].headers) for key in KEYS)  # it was sent, and came back


@pytest.mark.parametrize(("path", "model"), ROUTES)
async def test_an_echoed_key_cut_across_stream_chunks_never_reaches_the_client(
        frontend: TestServer, upstream: ScriptedUpstream, path: str, model: str) -> None:
    upstream.push(Script(content="your key is {key}, thanks", piece=100, echo_key=True))  # one delta, two chunks
    code, body, headers = await post(frontend, path, request_body(path, model, stream=True))
    assert code == 200 and b"your key is [REDACTED], thanks" in body
    assert_no_key(body, headers)


async def test_an_echoed_key_cut_across_chunks_of_a_large_plain_body_never_reaches_the_client(
        frontend: TestServer, upstream: ScriptedUpstream) -> None:
    upstream.push(Script(content="y" * (1536 * 1024) + " {key} end", echo_key=True))
    code, body, headers = await post(frontend, "/v1/chat/completions", request_body("/v1/chat/completions", "gpt-4o"))
    assert code == 200 and headers.get("Transfer-Encoding") == "chunked"  # streamed, not read whole
    assert json.loads(body)["choices"][0]["message"]["content"].endswith(" [REDACTED] end")
    assert_no_key(body[-4096:], headers)


CUT_BODIES = {
    "content-length-larger-than-sent": HostileBody(head=b'{"choices":[', filler=b" ", size=3 << 20,
                                                   declared_length=4 << 20),
    "chunked-without-its-last-chunk": HostileBody(head=b'{"choices":[', filler=b" ", size=3 << 20,
                                                  cut_after=2 << 20),
}


@pytest.mark.parametrize("name", CUT_BODIES)
async def test_a_cut_plain_body_reaches_the_client_as_a_broken_connection(
        frontend: TestServer, upstream: ScriptedUpstream, stack: Services, name: str) -> None:
    upstream.push(Script(hostile=CUT_BODIES[name]))
    async with aiohttp.ClientSession() as session:
        async with session.post(frontend.make_url("/v1/chat/completions"), json=request_body(
                "/v1/chat/completions", "gpt-4o")) as answer:
            request_id = answer.headers["request-id"]
            assert answer.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await answer.read()
    row = (await async_analytics_rows(stack.home, [request_id]))[request_id]
    assert (row["status"], row["error_type"]) == (502, "upstream_body_cut")


async def test_a_small_body_cut_before_its_content_length_is_a_502(frontend: TestServer, upstream: ScriptedUpstream,
                                                                   stack: Services) -> None:
    upstream.push(Script(hostile=HostileBody(head=b'{"choices":[', filler=b" ", size=500, declared_length=1000)))
    code, body, headers = await post(frontend, "/v1/chat/completions", request_body("/v1/chat/completions", "gpt-4o"))
    error = error_message("/v1/chat/completions", body)
    assert code == 502 and error["code"] == "upstream_body_cut" and "'gpt-up'" in error["message"]
    row = (await async_analytics_rows(stack.home, [headers["request-id"]]))[headers["request-id"]]
    assert (row["status"], row["error_type"]) == (502, "upstream_body_cut")


async def test_an_upstreams_cookies_are_neither_kept_nor_passed_on(tmp_path: pathlib.Path,
                                                                   upstream: ScriptedUpstream) -> None:
    """Real providers set cookies (Cloudflare's __cf_bm on api.openai.com); a kept one would go with every later
    request to that host, whichever client or credential sent it, tying a pool's keys together upstream. The
    backend is named `localhost`: aiohttp's default jar keeps no cookie for an IP address."""
    upstream.clear()
    cookie = "__cf_bm=cookie-of-the-first-request; Path=/; HttpOnly"
    with running_services(tmp_path / "home") as services:
        for index in range(2):
            services.add_backend("named", upstream.base_url.replace("127.0.0.1", "localhost"),
                                 f"{OPENAI_KEY}-{index}", credential=f"key{index}")
        async with running_frontend(services.config) as server:
            await wait_for_backends(server, 1)
            for path in ("/v1/chat/completions", "/v1/messages", "/v1/chat/completions"):
                upstream.push(Script(headers={"Set-Cookie": cookie}))
                code, body, headers = await post(server, path, request_body(path, "gpt-4o"))
                assert code == 200, body
                assert not {name.lower() for name in headers} & {"set-cookie", "cookie"}, headers
    sent = [request for request in upstream.requests if request.method == "POST"]
    assert len(sent) == 3
    assert all("cookie" not in {name.lower() for name in request.headers} for request in sent), [
        request.headers for request in sent]
