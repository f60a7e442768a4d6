"""Errors dario answers itself: OpenAI shape, the right status, the field named, a request-id on each."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import openai
import pytest
from aiohttp.test_utils import TestServer

from dario.testing.scripted_upstream import Script, ScriptedUpstream
from dario.testing.stack import Services, running_frontend, wait_for_backends, with_limits

pytestmark = pytest.mark.timeout(120)
MESSAGES = [{"role": "user", "content": "hi"}]


async def post(server: TestServer, body: bytes, path: str = "/v1/chat/completions",
               method: str = "POST") -> tuple[int, dict, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.request(method, server.make_url(path), data=body,
                                   headers={"content-type": "application/json"}) as answer:
            return answer.status, await answer.json(content_type=None), dict(answer.headers)


def assert_openai_error(document: dict) -> dict:
    error = document["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    return error


async def test_unrouted_model_is_404_naming_the_model_and_the_fix(frontend: TestServer) -> None:
    body = b'{"model":"mystery-llm","messages":[{"role":"user","content":"x"}]}'
    status, document, headers = await post(frontend, body)
    error = assert_openai_error(document)
    assert status == 404 and error["param"] == "model" and error["code"] == "model_not_found"
    # The backend exists: the fix named is a rule for it, not a backend to add (issue 12 item 4).
    assert "mystery-llm" in error["message"] and 'backend = "scripted"' in error["message"]
    assert headers["request-id"].startswith("req_")


async def test_the_sdk_sees_a_not_found_error_for_an_unrouted_model(frontend: TestServer) -> None:
    sdk = openai.AsyncOpenAI(base_url=str(frontend.make_url("/v1")), api_key="dario", max_retries=0)
    with pytest.raises(openai.NotFoundError, match="mystery"):
        await sdk.chat.completions.create(model="mystery", messages=MESSAGES)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b'{"messages":[{"role":"user","content":"x"}]}', "model"),
        (b'{"model":"gpt-4o","messages":[]}', "messages"),
        (b'{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"stream":"on"}', "stream"),
    ],
)
async def test_bad_request_bodies_are_400_naming_the_field(
    frontend: TestServer, body: bytes, param: str | None
) -> None:
    status, document, _ = await post(frontend, body)
    error = assert_openai_error(document)
    assert status == 400 and error["param"] == param and error["type"] == "invalid_request_error"


async def test_unknown_path_is_404_and_wrong_method_is_405(frontend: TestServer) -> None:
    status, document, headers = await post(frontend, b"{}", path="/v1/nothing-here")
    assert status == 404 and "/v1/nothing-here" in assert_openai_error(document)["message"]
    assert "request-id" in headers
    status, document, _ = await post(frontend, b"", path="/v1/chat/completions", method="GET")
    assert status == 405 and assert_openai_error(document)["code"] == "method_not_allowed"


async def test_body_over_the_limit_is_413(services: Services, upstream: ScriptedUpstream) -> None:
    config = with_limits(services.config, body_bytes=1024)
    async with running_frontend(config) as server:
        await wait_for_backends(server, 1)
        body = b'{"model":"gpt-4o","messages":[{"role":"user","content":"' + b"x" * 4096 + b'"}]}'
        status, document, _ = await post(server, body)
        assert status == 413 and "1024" in assert_openai_error(document)["message"]
        status, _, _ = await post(server, b'{"model":"gpt-4o","messages":[{"role":"user","content":"small"}]}')
        assert status == 200


async def test_health_reports_each_service(frontend: TestServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(frontend.make_url("/health")) as answer:
            document = await answer.json()
    assert answer.status == 200 and document["status"] == "ok"
    assert document["services"]["credential_service"]["state"] == "SERVING"
    assert document["services"]["pool_service"]["state"] == "SERVING"
    assert document["backends"] == 1


async def test_models_lists_what_the_openai_backends_serve(frontend: TestServer) -> None:
    sdk = openai.AsyncOpenAI(base_url=str(frontend.make_url("/v1")), api_key="dario", max_retries=0)
    listing = await sdk.models.list()
    ids = {model.id for model in listing.data}
    assert {"gpt-4o-mini", "gpt-4o"} <= ids
    assert all(model.owned_by == "scripted" for model in listing.data)


async def test_root_answers_probes(frontend: TestServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.head(frontend.make_url("/")) as answer:
            assert answer.status == 200


async def test_upstream_past_its_deadline_is_504(services: Services, upstream: ScriptedUpstream) -> None:
    config = with_limits(services.config, upstream_seconds=0.5)
    async with running_frontend(config) as server:
        await wait_for_backends(server, 1)
        upstream.push(Script(delay=2.0))
        status, document, _ = await post(server, b'{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}')
        assert status == 504 and assert_openai_error(document)["code"] == "upstream_timeout"


async def test_a_body_sent_too_slowly_is_408(services: Services) -> None:
    config = with_limits(services.config, body_read_seconds=0.5)
    async with running_frontend(config) as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"model\":")
        await writer.drain()
        head = await asyncio.wait_for(reader.read(4096), 10)
        writer.close()
        assert head.startswith(b"HTTP/1.1 408") and b"did not arrive" in head


@pytest.mark.parametrize(("path", "shape"), [(b"/v1/chat/completions", "openai"), (b"/v1/messages", "anthropic")])
async def test_headers_sent_too_slowly_are_408_in_the_paths_format(services: Services, path: bytes,
                                                                  shape: str) -> None:
    config = with_limits(services.config, header_seconds=0.5)
    async with running_frontend(config) as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        started = time.monotonic()
        writer.write(b"POST " + path + b" HTTP/1.1\r\nHost: localhost\r\nContent-Ty")  # and then nothing more
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)  # the server closes the connection
        waited = time.monotonic() - started
        writer.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408") and 0.4 < waited < 5
        document = json.loads(body)
        if shape == "anthropic":
            assert document["error"]["type"] == "timeout_error"
        else:
            assert document["error"]["code"] == "request_timeout"
        # A client that sends its headers in time on the same kind of connection is served normally.
        status, _, _ = await post(server, b'{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}')
        assert status == 200


async def test_a_connection_that_never_sends_anything_is_closed(services: Services) -> None:
    config = with_limits(services.config, header_seconds=0.5)
    async with running_frontend(config) as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed, with nothing to answer
        writer.close()


async def test_a_keep_alive_connection_dribbling_its_second_request_is_408(services: Services) -> None:
    config = with_limits(services.config, header_seconds=0.5)
    async with running_frontend(config) as server:
        await wait_for_backends(server, 1)
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        await writer.drain()
        first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        length = int(next(line.split(b":")[1] for line in first.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        await reader.readexactly(length)
        assert first.startswith(b"HTTP/1.1 200")
        await asyncio.sleep(1.0)  # idle on keep-alive longer than the header deadline: that is allowed
        writer.write(b"GET /health HTTP/1.1\r\nHo")
        await writer.drain()
        rest = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert rest.startswith(b"HTTP/1.1 408")
