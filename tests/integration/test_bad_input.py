"""Bad input that once got a 500, a lost answer, a plain-text error or was forwarded as if it were fine: each is
now a clear error in the API format of the path called, with a request-id, and the upstream never hears of it."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from dario.testing.raw_http import RawAnswer, RawConnection, exchange
from dario.testing.scripted_upstream import ScriptedUpstream
from dario.testing.stack import Services, running_frontend, with_limits, with_server
from tests.integration.conftest import async_analytics_rows

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
    config = with_server(services.config, api_key=KEY)
    async with running_frontend(config) as server:
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


def answered(answers: list[RawAnswer], statuses: list[int]) -> None:
    assert [answer.status for answer in answers] == statuses
    for answer in answers:
        assert answer.headers["request-id"].startswith("req_")


GARBAGE = b"GARBAGE GARBAGE\r\n\r\n"
HEALTH = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"


async def test_pipelined_garbage_after_a_valid_request_loses_nothing(frontend: TestServer) -> None:
    valid = request(CHAT, body_for(CHAT, NATIVE[CHAT]))
    for data, statuses in ((HEALTH + GARBAGE, [200, 400]), (valid + GARBAGE, [200, 400]),
                           (HEALTH + HEALTH + valid + GARBAGE, [200, 200, 200, 400])):
        async with RawConnection(frontend.host, frontend.port) as connection:
            await connection.send(data)
            answers = [await connection.answer() for _ in statuses]
            answered(answers, statuses)
            assert answers[-2].json and error_of(answers[-1], "/")["code"] == "bad_request"
            assert await connection.closed()


async def test_garbage_in_the_same_packet_as_a_body_end_gets_its_400(frontend: TestServer) -> None:
    """The request's head was read long before (the server said 100 Continue); its body's last bytes come with
    the garbage, or with a pipelined valid request, which must be served too."""
    body = body_for(CHAT, NATIVE[CHAT])
    head = request(CHAT, b"", b"Expect: 100-continue\r\n").replace(b"Content-Length: 0", b"Content-Length: %d"
                                                                    % len(body))
    for after, statuses in ((GARBAGE, [200, 400]), (HEALTH, [200, 200]), (HEALTH + GARBAGE, [200, 200, 400])):
        async with RawConnection(frontend.host, frontend.port) as connection:
            await connection.send(head)
            assert (await connection.answer()).status == 100
            await connection.send(body + after)
            answered([await connection.answer() for _ in statuses], statuses)


PARSER_ERRORS = [
    # (what, request bytes, status, code)
    ("a header line over the limit", b"GET {path} HTTP/1.1\r\nHost: localhost\r\nX-Big: %s\r\n\r\n" % (b"a" * 9000),
     431, "request_header_fields_too_large"),
    ("too many headers", b"GET {path} HTTP/1.1\r\nHost: localhost\r\n%s\r\n"
     % b"".join(b"X-%d: 1\r\n" % number for number in range(200)), 431, "request_header_fields_too_large"),
    ("a request line over the limit", b"GET {path}?q=%s HTTP/1.1\r\nHost: localhost\r\n\r\n" % (b"a" * 9000),
     414, "uri_too_long"),
    ("an unknown method", b"BREW {path} HTTP/1.1\r\nHost: localhost\r\n\r\n", 400, "bad_request"),
    ("Content-Length with Transfer-Encoding", b"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "bad_request"),
    ("two Content-Lengths", b"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nContent-Length: 3\r\n"
     b"\r\n{}", 400, "bad_request"),
    ("no Host", b"GET {path} HTTP/1.1\r\n\r\n", 400, "bad_request"),
    ("a bad chunk", b"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
     b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400, "bad_request"),
    ("a corrupt gzip body", b"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
     b"Content-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd", 400, "invalid_body"),
    ("an unknown Expect", b"POST {path} HTTP/1.1\r\nHost: localhost\r\nExpect: tea\r\nContent-Type: application/json"
     b"\r\nContent-Length: 2\r\n\r\n{}", 417, "expectation_failed"),
]


@pytest.mark.parametrize("path", [CHAT, MESSAGES])
@pytest.mark.parametrize(("what", "data", "status", "code"), PARSER_ERRORS, ids=[case[0] for case in PARSER_ERRORS])
async def test_http_errors_come_in_the_paths_api_shape_with_a_request_id(frontend: TestServer, path: str, what: str,
                                                                         data: bytes, status: int, code: str) -> None:
    answer = (await exchange(frontend.host, frontend.port, data.replace(b"{path}", path.encode())))[0]
    assert answer.status == status, (what, answer.body)
    error = error_of(answer, path)
    assert error["message"]
    if path == CHAT:
        assert error["code"] == code


async def test_the_header_deadline_408_has_a_request_id(services: Services) -> None:
    config = with_limits(services.config, header_seconds=0.5)
    async with running_frontend(config) as server:
        for path in (CHAT, MESSAGES):
            async with RawConnection(server.host, server.port) as connection:
                await connection.send(b"POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Ty" % path.encode())
                answer = await connection.answer()
                assert answer.status == 408 and error_of(answer, path)["message"]
                assert await connection.closed()


async def test_a_bad_chunk_after_the_head_was_taken_is_a_400(frontend: TestServer, services: Services) -> None:
    """aiohttp's parser forgets the body it was filling when a chunk size is malformed: the handler waited
    for the body deadline (30 s, then a 408 and a stray 400); now it is the request's 400, and recorded."""
    head = (b"POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" % CHAT.encode())
    async with RawConnection(frontend.host, frontend.port) as connection:
        await connection.send(head)
        assert (await connection.answer()).status == 100
        await connection.send(b"zz\r\n{}\r\n0\r\n\r\n")
        answer = await connection.answer()
        assert answer.status == 400, answer.body
        error = error_of(answer, CHAT)
        assert "chunk" in error["message"].lower() and error["code"] == "invalid_body"
        assert await connection.closed()  # one answer for it, then the connection ends
    recorded = await async_analytics_rows(services.home, [answer.headers["request-id"]])
    assert recorded[answer.headers["request-id"]]["status"] == 400
