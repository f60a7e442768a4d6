"""Serving the frontend app: aiohttp's runner, plus a deadline on request headers (SPEC §7: slow headers → 408).

aiohttp bounds idle keep-alive connections but not a client that sends its request line and headers a byte at
a time (slowloris): such a client would hold a connection, and a slot, for as long as it likes. Here every
request's head must arrive within `header_timeout` of its first byte (of the connection, for the first one);
past that the client gets a 408 in the API format its path names, and the connection is closed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger(__name__)

HEAD_SAMPLE_BYTES = 256  # enough of the request line to tell which API the client meant


def timeout_response(head: bytes, seconds: float) -> bytes:
    """A complete HTTP/1.1 408 answer, in the Anthropic shape when the request line names /v1/messages."""
    message = f"the request headers did not arrive within {seconds:g}s"
    if b" /v1/messages" in head:
        body = {"type": "error", "error": {"type": "timeout_error", "message": message}}
    else:
        body = {"error": {"message": message, "type": "timeout", "param": None, "code": "request_timeout"}}
    payload = json.dumps(body).encode()
    return (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
            b"content-length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload)


class HeaderDeadlineHandler(RequestHandler):
    """aiohttp's connection handler with a timer from a request's first byte until its headers are parsed."""

    def __init__(self, *args: object, header_timeout: float, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.header_timer: asyncio.TimerHandle | None = None
        self.head = b""

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
        if self._request_count > before and self.header_timer is not None:
            self.header_timer.cancel()  # the headers are complete (the body has its own deadline)
            self.header_timer = None

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


class DeadlineServer(web.Server):
    """aiohttp's low-level server, making HeaderDeadlineHandler connections."""

    def __init__(self, *args: object, header_timeout: float, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout

    def __call__(self) -> RequestHandler:
        return HeaderDeadlineHandler(self, loop=self._loop, header_timeout=self.header_timeout, **self._kwargs)


class FrontendRunner(web.AppRunner):
    """An AppRunner whose server enforces the header deadline."""

    def __init__(self, app: web.Application, *, header_timeout: float, **kwargs: object) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # runs the app's startup; its settings are carried over
        return DeadlineServer(plain.request_handler, request_factory=plain.request_factory,
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
        await stop.wait()
        log.info("stopping: no new connections; requests in flight get up to %gs", shutdown_timeout)
    finally:
        await runner.cleanup()
