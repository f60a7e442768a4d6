"""The one relay loop: an upstream body, through a stream machine, to the client, under the call's deadlines.

Both paths go through it: the native one with the identity machine (`PassThrough`, bytes unchanged but cut at
SSE event boundaries), the translated one with a machine of `frontend.translate`. Here, and only here: the
first-token, stall and total deadlines, the size bound, keep-alives to the client, secrets scrubbed from what is
passed on, and what a failure or a client that leaves becomes (before the first byte, which for a stream is its
first token: an error answer, which may fail over; after: the API's terminal error, never anything after
`[DONE]`, or a broken connection for a body that is not a stream).
"""

from __future__ import annotations

import asyncio
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from dario.config import UpstreamLimits
from frontend.errors import RelayFailed
from frontend.exchange import Exchange
from frontend.state import STATE
from frontend.upstream.deadlines import CallClock, Failure, broken, failed_in_band, read_timeout, too_large
from frontend.upstream.endings import closing, terminal_error
from frontend.upstream.first_token import read_events
from frontend.upstream.framing import EventFramer, Tail, only_keepalives
from frontend.upstream.scrub import Scrubber
from frontend.usage import Usage

if TYPE_CHECKING:  # frontend.dialects imports the translators, which import this package
    from frontend.dialects import Dialect


class StreamMachine(Protocol):
    """Upstream bytes in, client bytes out, chunk boundaries meaning nothing."""

    @property
    def started(self) -> bool: ...  # the client's answer has begun (keep-alives may be sent)

    @property
    def finished(self) -> bool: ...  # its terminal output is written: nothing more is read

    @property
    def delivered(self) -> bool: ...  # the client has the whole answer

    @property
    def progress(self) -> int: ...  # meaningful upstream events so far: keep-alives do not move it

    def feed(self, chunk: bytes) -> bytes: ...

    def finish(self) -> bytes: ...  # the upstream's body ended

    def fail(self, message: str, code: str) -> bytes: ...  # the relay failed: the terminal error, in-band

    def upstream_usage(self) -> Usage: ...


class PassThrough:
    """The identity machine of the native path. An event stream goes out in whole events (so a broken stream never
    ends mid-event); its usage is read from samples of its head and tail at the end, nothing is re-encoded."""

    def __init__(self, dialect: Dialect, events: bool) -> None:
        self.dialect = dialect
        self.framer = EventFramer() if events else None
        self.tail = Tail()
        self.started = self.finished = self.delivered = False
        self.progress = 0

    def feed(self, chunk: bytes) -> bytes:
        framer = self.framer
        if framer is None:
            self.tail.add(chunk)
            self.progress += 1
            return chunk
        out = framer.feed(chunk)
        if out:
            self.tail.add(out)
            self.started = True
            if not only_keepalives(out):
                self.progress += 1
            marker = self.dialect.end_marker
            if marker and marker in out[-256:]:
                self.delivered = True  # the client has the whole answer, whatever happens next
        return out

    def finish(self) -> bytes:
        rest = self.framer.rest() if self.framer is not None else b""
        self.tail.add(rest)
        self.finished = self.delivered = True
        return rest

    def fail(self, message: str, code: str) -> bytes:
        self.finished = True
        if self.framer is None or self.delivered:  # after the end marker (a cut after [DONE]): nothing more
            return b""
        return terminal_error(self.dialect.api_format, message, code, self.tail.head)

    def upstream_usage(self) -> Usage:
        if self.framer is not None:
            return self.dialect.usage_from_stream(self.tail.head, self.tail.value())
        return self.dialect.usage_from_body(self.tail.value())


@dataclass
class Upstream:
    """One upstream call's answer, and what bounds relaying it."""

    response: aiohttp.ClientResponse
    clock: CallClock
    limits: UpstreamLimits
    scrubber: Scrubber
    read_seconds: float  # aiohttp's own per-read timeout ([limits] upstream_seconds), named when it fires
    body: bytes | None = None  # its error body, read (and scrubbed) already: forwarding looked at it first


class ClientSink:
    """Where relayed bytes go. The first `hold` bytes are kept (so a small body goes out whole, with a
    Content-Length, and a failure before them is still an ordinary error answer); past that, or once `start`
    is called, the response is prepared and everything is streamed. A stream's sink is started by the relay at
    its first token (its headers held until then, so a failure before it can still fail over)."""

    def __init__(self, request: web.Request, response: web.StreamResponse, exchange: Exchange, hold: int = 0) -> None:
        self.request, self.response, self.exchange, self.hold = request, response, exchange, hold
        self.parts: list[bytes] = []
        self.size = 0
        self.counted = 0  # bytes about to be written that a record counted already
        self.open = self.gone = False
        # The body's last bytes, kept to go out with its end: one send instead of two (and one wakeup of the
        # client fewer). Once it holds any, later writes join it, so the order stays.
        self.last = b""

    async def start(self) -> bool:
        self.open = True
        try:
            await self.response.prepare(self.request)
        except ConnectionResetError:
            return self._left()
        held, self.parts = b"".join(self.parts), []
        return await self.write(held) if held else True

    async def write(self, data: bytes) -> bool:
        """False when the client has gone."""
        if not self.open:
            self.parts.append(data)
            self.size += len(data)
            return await self.start() if self.size > self.hold else True
        if self.last:
            self.last += data
            return True
        self.exchange.mark_first_byte()
        try:
            await self.response.write(data)
        except ConnectionResetError:
            return self._left()
        self._sent(data)
        return True

    def keep_last(self, data: bytes) -> None:
        """`data` ends the body (its end has been read): it goes out with the end (`end`), in the same send."""
        self.last += data

    def _sent(self, data: bytes) -> None:
        counted = min(self.counted, len(data))  # counted already, in a record made before they went out
        self.counted -= counted
        self.exchange.bytes_sent += len(data) - counted

    def _left(self) -> bool:
        self.gone = True
        self.exchange.client_gone()
        return False

    def abort(self) -> None:
        """Breaks the connection without the body's end: the client cannot mistake a cut body for a whole one."""
        self.gone = True
        if self.request.transport is not None:
            self.request.transport.abort()

    def body(self) -> bytes:
        return b"".join(self.parts)

    async def end(self) -> web.StreamResponse:
        if not self.open and not self.gone and not await self.start():  # a held stream that ended: out whole
            return self.response
        if not self.gone:
            last, self.last = self.last, b""
            if last:
                self.exchange.mark_first_byte()
            try:
                await self.response.write_eof(last)
            except ConnectionResetError:
                self._left()
                return self.response
            self._sent(last)
        return self.response


class Relay:
    """One upstream body relayed through `machine` into `sink`. `events`: the body is an event stream (a failure
    is told in-band; else the connection is broken), in the client's API `api_format`: the sink is started at its
    first token (frontend.upstream.first_token), so everything before it may still fail over. The body may
    decompress to at most `limit` bytes (`setting` names it in the error). `keepalive`, when given, goes to the
    client after `ping_seconds` of upstream silence, once the client's stream has begun."""

    def __init__(self, upstream: Upstream, machine: StreamMachine, sink: ClientSink, *, events: bool,
                 limit: int, setting: str, keepalive: bytes = b"", ping_seconds: float = math.inf,
                 record: Callable[[Exchange], None] | None = None, api_format: str = "") -> None:
        self.upstream, self.machine, self.sink, self.events = upstream, machine, sink, events
        self.record = record
        self.clock = upstream.clock
        self.scrubber = upstream.scrubber.stream(whole_events=events)
        self.limit, self.setting = limit, setting
        self.keepalive, self.ping_seconds = keepalive, ping_seconds
        self.api_format = api_format or sink.exchange.api_format
        self.written = b""  # the last bytes sent (a Chat stream's ending is read from them)

    async def run(self) -> None:
        """Relays until the body ends, fails or the client leaves; raises RelayFailed when it failed before the
        client got a byte."""
        machine, sink, clock, exchange = self.machine, self.sink, self.clock, self.sink.exchange
        watch_framing(self.upstream.response)
        try:
            failure = await self._loop(machine, sink, clock, exchange)
            if failure is not None:
                await self._fail(failure)
        finally:
            if sink.open and exchange.error_type == "":  # also when the client left right after the last event
                exchange.usage = machine.upstream_usage()

    async def _loop(self, machine: StreamMachine, sink: ClientSink, clock: CallClock,
                    exchange: Exchange) -> Failure | None:
        content, loop = self.upstream.response.content, asyncio.get_running_loop()
        received, seen = 0, machine.progress
        ping_at = loop.time() + self.ping_seconds if self.keepalive else math.inf
        while True:
            try:
                chunk = content.read_nowait()  # what is buffered already needs no timer
                if not chunk and not content.is_eof():
                    async with asyncio.timeout_at(min(clock.expiry(), ping_at)):
                        chunk = await content.readany()
            except aiohttp.ServerTimeoutError:
                return read_timeout(clock.backend, self.upstream.read_seconds)
            except TimeoutError:
                now = loop.time()
                if now >= clock.expiry():
                    return clock.failure(now)
                ping_at = now + self.ping_seconds
                if machine.started and sink.open and not await self._write(self.keepalive):
                    return None
                continue
            except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, HttpProcessingError) as error:
                return broken(clock.backend, error, self.events)
            now = loop.time()
            if not chunk:
                end = self.scrubber.feed(machine.finish()) + self.scrubber.flush()
                failure = await self._first_token(end, clock, now)
                if failure is not None:
                    return failure
                self._recorded(machine, exchange, len(end))
                if end and not await self._write(end):
                    return None
                if self.events and not sink.open and not await sink.start():  # a stream that ended held
                    return None
                exchange.delivered = exchange.delivered or machine.delivered
                await self._close(machine)
                return None
            received += len(chunk)
            if received > self.limit:
                return too_large(clock.backend, self.limit, self.setting)
            if self.keepalive:
                ping_at = now + self.ping_seconds
            out = machine.feed(chunk)
            if machine.progress != seen:
                seen = machine.progress
                if clock.token_seen or not self.events:
                    clock.progressed(now)
            if out and not clock.token_seen:
                failure = await self._first_token(out, clock, now)
                if failure is not None:
                    return failure
            data = self.scrubber.feed(out) if out else b""
            if machine.delivered:
                self._recorded(machine, exchange, len(data))
            if data and sink.open and content.at_eof():  # the body's last bytes: they go out with its end
                self.written = (self.written + data)[-1024:]
                sink.keep_last(data)
                continue
            if data:
                if not await self._write(data):
                    return None
                clock.excuse(loop.time() - now)
            if machine.delivered:
                exchange.delivered = True
            if machine.finished:
                await self._close(machine)
                return None

    async def _first_token(self, out: bytes, clock: CallClock, now: float) -> Failure | None:
        """Before the first token: an in-band server error or rate limit fails over (a Failure); a token (or an
        error passed on as it is) starts the client's stream."""
        if not self.events or clock.token_seen or self.sink.open or not out:
            return None
        reading = read_events(self.api_format, out)
        error = reading.error
        if error is not None and (error.status >= 500 or error.status == 429):
            return failed_in_band(clock.backend, error.status, error.error_type, error.message)
        if reading.token or error is not None:
            clock.progressed(now)
            if not await self.sink.start():
                return None
        return None

    async def _write(self, data: bytes) -> bool:
        self.written = (self.written + data)[-1024:]
        return await self.sink.write(data)

    async def _close(self, machine: StreamMachine) -> None:
        """A Chat stream that ended on an error chunk gets its `[DONE]`."""
        if self.events and self.sink.open and not self.sink.gone:
            ending = closing(self.api_format, self.written)
            if ending:
                await self._write(ending)

    def _recorded(self, machine: StreamMachine, exchange: Exchange, pending: int) -> None:
        """The answer is complete: its record goes to the journal before the bytes that complete it go to the
        client (`pending` of them, counted as sent), so a frontend killed right after the client has its answer
        has the record on disk."""
        if self.record is None or exchange.recorded or not self.sink.open or exchange.error_type:
            return
        if not machine.delivered:  # the machine ended it with an error: its caller records that (issue 16)
            return
        exchange.delivered = True
        exchange.bytes_sent += pending
        self.sink.counted += pending
        exchange.usage = machine.upstream_usage()
        exchange.finish()
        self.record(exchange)

    async def _fail(self, failure: Failure) -> None:
        if self.events and self.machine.delivered and self.sink.open:
            return  # the client has the whole answer (e.g. a cut right after [DONE]): a success, nothing added
        if not self.sink.open:
            raise RelayFailed(failure)
        self.sink.exchange.settle(failure.status, failure.error_type)
        if not self.events:
            self.sink.abort()  # no way to say it in-band
            return
        ending = self.machine.fail(failure.message, failure.error_type)
        if ending and not await self._write(self.scrubber.feed(ending) + self.scrubber.flush()):
            return
        await self._close(self.machine)


def watch_framing(response: aiohttp.ClientResponse) -> None:
    """Ends the body with an error when its connection closes before it ended. aiohttp's C parser, on a chunked
    body whose framing breaks (a chunk size line that is none), closes the connection but never tells the body's
    reader, which would wait forever (issue 16: such a stream stayed in flight until the client gave up)."""
    connection = response.connection
    closed = connection.protocol.closed if connection is not None and connection.protocol is not None else None
    if closed is None:
        return
    content = response.content

    def check(future: asyncio.Future[None]) -> None:
        if not future.cancelled():
            future.exception()  # retrieved: a connection lost with an error is no unhandled one
        if not content.is_eof() and content.exception() is None:
            content.set_exception(aiohttp.ClientPayloadError("the upstream connection closed inside the body "
                                                              "(its framing broke)"))
    closed.add_done_callback(check)


async def read_whole(request: web.Request, upstream: Upstream, machine: StreamMachine, exchange: Exchange,
                     limit: int, setting: str) -> bytes:
    """The whole body (scrubbed), read under the same deadlines and bound; RelayFailed when it cannot be had."""
    if upstream.body is not None:
        exchange.mark_first_byte()
        return upstream.body
    sink = ClientSink(request, web.StreamResponse(), exchange, hold=sys.maxsize)  # never opened: `limit` fails first
    await Relay(upstream, machine, sink, events=False, limit=limit, setting=setting).run()
    exchange.mark_first_byte()
    return sink.body()


def record_now(request: web.Request) -> Callable[[Exchange], None]:
    """Hands a complete streamed answer's record to the reporter (and so its journal) before its last bytes go out."""
    reporter = request.app[STATE].pool.reporter

    def record(exchange: Exchange) -> None:
        exchange.recorded = True
        reporter.add(exchange)
    return record
