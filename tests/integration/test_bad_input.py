"""Bad input that once got a 500, a lost answer, a plain-text error or was forwarded as if it were fine: each is
now a clear error in the API format of the path called, with a request-id, and the upstream never hears of it."""

from __future__ import annotations

import dataclasses

import pytest
from aiohttp.test_utils import TestServer

from tests.support.raw_http import RawAnswer, exchange
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import Services, running_frontend

pytestmark = pytest.mark.timeout(120)
CHAT, MESSAGES, COUNT, RESPONSES = "/v1/chat/completions", "/v1/messages", "/v1/messages/count_tokens", "/v1/responses"
NATIVE = {CHAT: "gpt-4o", MESSAGES: "claude-sonnet-4-5", COUNT: "claude-sonnet-4-5"}
TRANSLATED = {CHAT: "claude-sonnet-4-5", MESSAGES: "gpt-4o", RESPONSES: "claude-sonnet-4-5"}
KEY = "sk-test-bad-input-key"


@pytest.fixture
def frontend(both_kinds_frontend: TestServer) -> TestServer:
    return both_kinds_frontend


@pytest.fixture
def services(both_kinds: Services) -> Services:
    return both_kinds


def request(path: str, body: bytes, headers: bytes = b"") -> bytes:
    return (b"POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
            % (path.encode(), len(body), headers)) + body


def body_for(path: str, model: str, content: bytes = b'"hi"', extra: bytes = b"") -> bytes:
    if path == RESPONSES:
        return b'{"model":"%s","input":[{"role":"user","content":%s}]%s}' % (model.encode(), content, extra)
    tokens = b',"max_tokens":5' if path in (MESSAGES, COUNT) else b""
    return b'{"model":"%s"%s,"messages":[{"role":"user","content":%s}]%s}' % (model.encode(), tokens, content, extra)


def error_of(answer: RawAnswer, path: str) -> dict:
    """The error object, after checking the shape of the path's API and the request-id."""
    assert answer.headers["request-id"].startswith("req_"), answer.headers
    assert answer.headers["content-type"].startswith("application/json")
    document = answer.json
    if path.startswith("/v1/messages"):
        assert document["type"] == "error" and set(document["error"]) == {"type", "message"}
    else:
        assert set(document["error"]) == {"message", "type", "param", "code"}
    return document["error"]


async def post(server: TestServer, path: str, body: bytes, headers: bytes = b"") -> RawAnswer:
    return (await exchange(server.host, server.port, request(path, body, headers)))[0]


@pytest.mark.parametrize("options", [b'"yes"', b"true", b"5", b"[1]"])
@pytest.mark.parametrize("stream", [b"true", b"false"])
async def test_a_stream_options_that_is_no_object_is_a_400_naming_it(frontend: TestServer, options: bytes,
                                                                     stream: bytes) -> None:
    body = body_for(CHAT, TRANSLATED[CHAT], extra=b',"stream":%s,"stream_options":%s' % (stream, options))
    answer = await post(frontend, CHAT, body)
    assert answer.status == 400 and error_of(answer, CHAT)["param"] == "stream_options"


@pytest.mark.parametrize("path", list(TRANSLATED))
async def test_an_encoded_surrogate_on_a_translated_route_is_a_400(frontend: TestServer, upstream: ScriptedUpstream,
                                                                   path: str) -> None:
    answer = await post(frontend, path, body_for(path, TRANSLATED[path], b'"\xed\xa0\x80"'))
    assert answer.status == 400 and "UTF-8" in error_of(answer, path)["message"]
    assert upstream.requests == []


@pytest.mark.parametrize("header", [b"x-api-key: \xff", b"Authorization: Bearer \xff\xfe", b"x-api-key: " + KEY.encode()
                                    + b"\xff"])
async def test_a_key_header_that_is_not_utf8_is_a_401(services: Services, header: bytes) -> None:
    settings = dataclasses.replace(services.settings, api_key=KEY)
    async with running_frontend(settings) as server:
        for path in (CHAT, MESSAGES):
            answer = await post(server, path, body_for(path, NATIVE[path]), header + b"\r\n")
            assert answer.status == 401, answer.body
            error = error_of(answer, path)
            assert error["type"] == "authentication_error"


BROKEN_JSON = [
    ("NaN", lambda body: body.replace(b"{", b'{"temperature":NaN,', 1)),
    ("Infinity", lambda body: body.replace(b"{", b'{"top_p":-Infinity,', 1)),
    ("UTF-16", lambda body: body.decode().encode("utf-16")),  # with its byte order mark
    ("UTF-16", lambda body: body.decode().encode("utf-16-le")),
    ("UTF-16", lambda body: body.decode().encode("utf-32-be")),
    ("UTF-8", lambda body: body.replace(b'"hi"', b'"\xed\xa0\x80"')),  # an encoded surrogate
    ("UTF-8", lambda body: body.replace(b'"hi"', b'"\xc0\xaf"')),  # an overlong "/"
    ("UTF-8", lambda body: body.replace(b'"hi"', b'"\xff"')),
    ("byte order mark", lambda body: b"\xef\xbb\xbf" + body),
]


@pytest.mark.parametrize(("named", "spoil"), BROKEN_JSON, ids=[f"{name}-{index}" for index, (name, _)
                                                               in enumerate(BROKEN_JSON)])
@pytest.mark.parametrize("path", list(NATIVE))
async def test_what_rfc_8259_is_not_is_refused_not_forwarded(frontend: TestServer, upstream: ScriptedUpstream,
                                                             path: str, named: str, spoil) -> None:
    body = spoil(body_for(path, NATIVE[path]))
    answer = await post(frontend, path, body)
    assert answer.status == 400, answer.body
    error = error_of(answer, path)
    assert named in error["message"]
    assert upstream.requests == []


async def test_the_same_body_unspoiled_is_served_natively(frontend: TestServer, upstream: ScriptedUpstream) -> None:
    for path in NATIVE:  # the cases above fail for their spoiling, not for the body around it
        answer = await post(frontend, path, body_for(path, NATIVE[path], b'"caf\xc3\xa9 \\ud83d\\ude00"'))
        assert answer.status == 200, answer.body
    assert [recorded.path for recorded in upstream.requests] == ["/v1/chat/completions", "/v1/messages",
                                                                 "/v1/messages/count_tokens"]
