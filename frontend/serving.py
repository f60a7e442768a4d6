"""Serving the frontend app: aiohttp's runner, plus what its connection handler does not do for an API server.

- A deadline on request headers (slow headers → 408; architecture.md, Security). aiohttp bounds idle keep-alive
  connections but not a client that sends its request line and headers a byte at a time (slowloris). Here every
  request's head must arrive within `header_timeout` of its first byte (of the connection, for the first one).
- Errors aiohttp answers itself (its HTTP parser's 400s, header limits, a handler crash outside the app's
  middleware, an unknown Expect) come in the API format the request line names, with a request-id.
- Pipelined requests are parsed one at a time, so that bytes the parser rejects cost only their own request:
  aiohttp's parser drops every request it parsed in the same read when a later one in it is malformed.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http import HttpRequestParser
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler, _ErrInfo

from dario import collector
from frontend.app import new_request_id
from frontend.dialects import api_format_of
from frontend.error_mapping import from_http_exception
from frontend.errors import ApiError, MalformedBody, error_body, error_response

log = logging.getLogger(__name__)

HEAD_SAMPLE_BYTES = 256  # enough of the request line to tell which API the client meant
SHOWN_PARSER_MESSAGE = 200  # characters of aiohttp's parser message passed on to the client
TOO_MANY_HEADERS = "Too many headers received"  # aiohttp's message for more than max_headers
LowLevelHandler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]  # what web.Server calls
# The subclasses below pass *args and **kwargs through to aiohttp's constructors unchanged, typed as Any.


def path_of(head: bytes) -> str:
    """The path on a request line (or "" when there is none yet), to choose the API format of an error."""
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    return parts[1].decode("latin-1") if len(parts) > 1 else ""


def raw_error(error: ApiError, head: bytes) -> bytes:
    """A complete HTTP/1.1 error answer that closes the connection, for when no aiohttp response can be made."""
    payload = error_body(error, api_format_of(path_of(head)))
    request_id = new_request_id().encode()
    return (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\nconnection: close\r\n"
            b"request-id: %s\r\nx-request-id: %s\r\ncontent-length: %d\r\n\r\n"
            % (error.status, HTTPStatus(error.status).phrase.encode(), request_id, request_id, len(payload))) + payload


def timeout_response(head: bytes, seconds: float) -> bytes:
    """The 408 for headers that took too long, in the Anthropic shape when the request line names /v1/messages."""
    error = ApiError(408, f"the request headers did not arrive within {seconds:g}s", code="request_timeout")
    return raw_error(error, head)


def with_request_id(response: web.Response) -> web.Response:
    request_id = new_request_id()
    response.headers["request-id"] = request_id
    response.headers["x-request-id"] = request_id
    return response


class HeaderDeadlineHandler(RequestHandler):
    """aiohttp's connection handler with a timer from a request's first byte until its headers are parsed."""

    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.header_timer: asyncio.TimerHandle | None = None
        self.head = b""
        # The parser stops after each complete request and the queue holds one: aiohttp's own flow control
        # resumes parsing as a request is taken from the queue or its body is read, so a malformed request
        # behind a valid one is met only after it, and answered after it.
        self._parser = HttpRequestParser(
            self, self._loop, self._read_bufsize, max_line_size=self.max_line_size,
            max_field_size=self.max_field_size, max_headers=self.max_headers, payload_exception=MalformedBody,
            auto_decompress=kwargs.get("auto_decompress", True), max_msg_queue_size=1)
        self._max_msg_queue_size = 1
        self._msg_queue_resume_size = 0

    def _pause_reading_for_buffer(self) -> None:
        """The queue (of one) is full. When the server is idle it takes that request on its next step and then
        resumes parsing: only the flag is needed, not a pause of the socket (two syscalls a request)."""
        if self._waiter is not None:
            self._buffer_paused = True
            return
        super()._pause_reading_for_buffer()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        self.head = b""
        self.header_timer = self._loop.call_later(self.header_timeout, self._headers_too_slow)

    def data_received(self, data: bytes) -> None:
        idle = not self._messages and self._waiter is not None  # waiting for a new request: this starts one
        if self.header_timer is None and idle and data:
            self._arm()
        if self.header_timer is not None and len(self.head) < HEAD_SAMPLE_BYTES:
            self.head += data[: HEAD_SAMPLE_BYTES - len(self.head)]
        before = self._request_count
        super().data_received(data)
        if self._request_count > before and isinstance(self._messages[-1][0], _ErrInfo):
            self._fail_unfinished_bodies(self._messages[-1][0].exc)
        if self._request_count > before and self.header_timer is not None:
            self.header_timer.cancel()  # the headers are complete (the body has its own deadline)
            self.header_timer = None

    def _fail_unfinished_bodies(self, exc: BaseException) -> None:
        """The parser gave up mid-body (e.g. a bad chunk size): aiohttp forgets the body it was filling, and its
        reader would wait until the body deadline. Every unfinished body fails now, as a malformed one."""
        payloads = [payload for _, payload in self._messages]
        if self._current_request is not None:
            payloads.append(self._current_request.content)
        for payload in payloads:
            if not payload.is_eof():
                payload.set_exception(MalformedBody(getattr(exc, "message", "") or str(exc)))

    def connection_lost(self, exc: BaseException | None) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None
        super().connection_lost(exc)

    def _headers_too_slow(self) -> None:
        self.header_timer = None
        if self.transport is None or self._force_close:
            return
        if self.head:
            self.transport.write(timeout_response(self.head, self.header_timeout))
        log.info("closed a connection whose request headers took over %gs", self.header_timeout)
        self.force_close()

    def handle_error(self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        """aiohttp's answer to what its parser refused or a crash outside the app, in the client's API format."""
        if request.writer.output_size > 0:  # as aiohttp does: the answer has begun, only closing is left
            raise ConnectionError("the response has started, the error can only close the connection")
        if isinstance(exc, HttpProcessingError):
            error, api_format = self._parser_error(exc), api_format_of(path_of(self.head))
            log.info("refused a malformed request (%d): %s", error.status, exc.message[:SHOWN_PARSER_MESSAGE])
        else:
            api_format = api_format_of(request.path)
            if status == 504:
                error = ApiError(504, "dario did not answer in time", code="timeout")
            else:
                log.error("unexpected error on %s %s", request.method, request.path, exc_info=exc)
                error = ApiError(500, "dario hit an internal error; see $DARIO_HOME/logs", code="internal_error")
        response = with_request_id(error_response(error, api_format))
        response.force_close()
        return response

    def _parser_error(self, exc: HttpProcessingError) -> ApiError:
        if isinstance(exc, LineTooLong) and b"\r\n" not in self.head:
            return ApiError(414, f"the request line is longer than {self.max_line_size} bytes", code="uri_too_long")
        if isinstance(exc, LineTooLong) or exc.message == TOO_MANY_HEADERS:
            return ApiError(431, f"the request headers are larger than dario accepts: at most {self.max_headers} "
                                 f"headers of {self.max_field_size} bytes each",
                            code="request_header_fields_too_large")
        status = exc.code if 400 <= exc.code < 500 else 400
        detail = exc.message.split("\n", 1)[0].rstrip(":")[:SHOWN_PARSER_MESSAGE]
        return ApiError(status, f"the request is not valid HTTP/1.1: {detail}", code="bad_request")


class DeadlineServer(web.Server):
    """aiohttp's low-level server, making HeaderDeadlineHandler connections."""

    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout

    def __call__(self) -> RequestHandler:
        return HeaderDeadlineHandler(self, loop=self._loop, header_timeout=self.header_timeout, **self._kwargs)


def shaping_http_errors(handler: LowLevelHandler) -> LowLevelHandler:
    """The app's handler, with the HTTP errors aiohttp raises before the middleware runs (an unknown Expect)
    in the path's API format; the app stamps its request-id on them as on every answer."""

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as error:
            if error.status < 400:
                raise
            return error_response(from_http_exception(error, request.method, request.path),
                                  api_format_of(request.path))

    return handle


class FrontendRunner(web.AppRunner):
    """An AppRunner whose server enforces the header deadline."""

    def __init__(self, app: web.Application, *, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # runs the app's startup; its settings are carried over
        return DeadlineServer(shaping_http_errors(plain.request_handler), request_factory=plain.request_factory,
                              handler_cancellation=plain.handler_cancellation, loop=plain._loop,
                              header_timeout=self.header_timeout, **plain._kwargs)


async def serve(app: web.Application, host: str, port: int, header_timeout: float, shutdown_timeout: float) -> None:
    """Serves until SIGTERM/SIGINT, then stops listening and lets requests in flight finish (up to the grace)."""
    runner = FrontendRunner(app, header_timeout=header_timeout, access_log=None, handler_cancellation=True,
                            shutdown_timeout=shutdown_timeout, handle_signals=False)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        log.info("serving on http://%s:%d", host, port)
        collector.settle()
        await stop.wait()
        log.info("stopping: no new connections; requests in flight get up to %gs", shutdown_timeout)
    finally:
        await runner.cleanup()
