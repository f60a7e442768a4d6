"""frontend/serving.py leans on parts of aiohttp that are not its public API: this fails, naming the part, when
an aiohttp upgrade moves one, instead of the header deadline or the pipelining fix quietly stopping to work."""

from __future__ import annotations

import asyncio
import collections
import inspect

import pytest
from aiohttp import http_parser, web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler, _ErrInfo

from frontend.serving import TOO_MANY_HEADERS, DeadlineServer, FrontendRunner, HeaderDeadlineHandler

HEALTH = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"
PARSERS = [http_parser.HttpRequestParserPy]
if hasattr(http_parser, "HttpRequestParserC"):
    PARSERS.append(http_parser.HttpRequestParserC)


async def answer(request: web.BaseRequest) -> web.Response:
    return web.Response(text="ok")


def connection_handler() -> HeaderDeadlineHandler:
    handler = DeadlineServer(answer, header_timeout=1.0, loop=asyncio.get_running_loop())()
    assert isinstance(handler, HeaderDeadlineHandler)  # typed as aiohttp's RequestHandler, its base
    return handler


async def test_the_connection_handler_attributes_serving_uses_exist() -> None:
    handler = connection_handler()
    expected = {"_messages": collections.deque, "_request_count": int, "_force_close": bool, "_upgraded": bool,
                "_max_msg_queue_size": int, "_msg_queue_resume_size": int, "_read_bufsize": int,
                "max_line_size": int, "max_field_size": int, "max_headers": int,
                "_loop": asyncio.AbstractEventLoop}
    for name, kind in expected.items():
        assert isinstance(getattr(handler, name), kind), name
    for name in ("_waiter", "_current_request", "_reading_paused", "_buffer_paused", "transport"):
        assert hasattr(handler, name), name
    assert (handler._max_msg_queue_size, handler._msg_queue_resume_size) == (1, 0)
    for name in ("_pause_reading_for_buffer", "_resume_reading_if_drained", "_resume_reading_for_buffer"):
        assert callable(getattr(RequestHandler, name, None)), name  # the queue's flow control, overridden in part
    assert list(inspect.signature(HeaderDeadlineHandler.handle_error).parameters) == [
        "self", "request", "status", "exc", "message"]
    error = HttpProcessingError(message="bad")
    assert _ErrInfo(status=400, exc=error, message="bad").exc is error  # what a parser error is queued as


async def test_the_server_and_runner_attributes_serving_uses_exist() -> None:
    server = web.Server(answer, loop=asyncio.get_running_loop(), keepalive_timeout=5)
    assert server._kwargs == {"keepalive_timeout": 5} and server._loop is asyncio.get_running_loop()
    for name in ("request_handler", "request_factory", "handler_cancellation"):
        assert hasattr(server, name), name
    assert inspect.iscoroutinefunction(FrontendRunner._make_server) and hasattr(web.AppRunner, "_make_server")


@pytest.mark.parametrize("parser_class", PARSERS)
async def test_the_parser_stops_after_each_request_and_raises_only_on_the_bad_one(parser_class) -> None:
    """What the pipelining fix needs: with max_msg_queue_size=1 a parser returns one request per call and keeps
    the rest, so garbage behind valid requests raises only once they were taken."""
    parser = parser_class(connection_handler(), asyncio.get_running_loop(), 2**16, max_msg_queue_size=1)
    messages, _, _ = parser.feed_data(HEALTH + HEALTH + b"GARBAGE GARBAGE\r\n\r\n")
    assert [message.path for message, _ in messages] == ["/health"]
    parser.message_consumed()
    messages, _, _ = parser.feed_data(b"")
    assert [message.path for message, _ in messages] == ["/health"]
    parser.message_consumed()
    with pytest.raises(HttpProcessingError):
        parser.feed_data(b"")


@pytest.mark.parametrize("parser_class", PARSERS)
async def test_the_header_limit_errors_are_the_ones_serving_maps_to_431(parser_class) -> None:
    def parser():
        return parser_class(connection_handler(), asyncio.get_running_loop(), 2**16, max_headers=128,
                            max_field_size=8190)
    many = b"GET / HTTP/1.1\r\nHost: localhost\r\n" + b"".join(b"X-%d: 1\r\n" % number for number in range(200))
    with pytest.raises(HttpProcessingError) as raised:
        parser().feed_data(many + b"\r\n")
    assert raised.value.message == TOO_MANY_HEADERS
    with pytest.raises(LineTooLong):
        parser().feed_data(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
