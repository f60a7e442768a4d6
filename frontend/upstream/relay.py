"""The one relay loop: an upstream body, through a stream machine, to the client, under the call's deadlines.

Both paths go through it: the native one with the identity machine (`PassThrough`, bytes unchanged but cut at
SSE event boundaries), the translated one with a machine of `frontend.translate`. Here, and only here: the
first-byte, stall and total deadlines, the size bound, keep-alives to the client, secrets scrubbed from what is
passed on, and what a failure or a client that leaves becomes (before the first byte: an error answer; after:
a terminal error event, or a broken connection for a body that is not a stream).
"""

from __future__ import annotations

import asyncio
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import aiohttp
from aiohttp import web

from dario.config import UpstreamLimits
from frontend.errors import RelayFailed
from frontend.exchange import Exchange
from frontend.state import STATE
from frontend.upstream.deadlines import CallClock, Failure, broken, read_timeout, too_large
from frontend.upstream.framing import EventFramer, Tail, only_keepalives
from frontend.upstream.scrub import Scrubber
from frontend.usage import Usage


class StreamMachine(Protocol):
    """Upstream bytes in, client bytes out, chunk boundaries meaning nothing."""

    started: bool  # the client's answer has begun (keep-alives may be sent)
    finished: bool  # its terminal output is written: nothing more is read

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

    def __init__(self, dialect, events: bool) -> None:
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
        return self.dialect.stream_error(message, code) if self.framer is not None else b""

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


class ClientSink:
    """Where relayed bytes go. The first `hold` bytes are kept (so a small body goes out whole, with a
    Content-Length, and a failure before them is still an ordinary error answer); past that, or once `start`
    is called, the response is prepared and everything is streamed."""

    def __init__(self, request: web.Request, response: web.StreamResponse, exchange: Exchange, hold: int = 0) -> None:
        self.request, self.response, self.exchange, self.hold = request, response, exchange, hold
        self.parts: list[bytes] = []
        self.size = 0
        self.open = self.gone = False

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
        self.exchange.mark_first_byte()
        try:
            await self.response.write(data)
        except ConnectionResetError:
            return self._left()
        return True

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
        if not self.gone:
            try:
                await self.response.write_eof()
            except ConnectionResetError:
                self._left()
        return self.response


class Relay:
    """One upstream body relayed through `machine` into `sink`. `events`: the body is an event stream (a failure
    is told in-band; else the connection is broken). The body may decompress to at most `limit` bytes (`setting`
    names it in the error). `keepalive`, when given, goes to the client after `ping_seconds` of upstream silence."""

    def __init__(self, upstream: Upstream, machine: StreamMachine, sink: ClientSink, *, events: bool,
                 limit: int, setting: str, keepalive: bytes = b"", ping_seconds: float = math.inf,
                 record: Callable[[Exchange], None] | None = None) -> None:
        self.upstream, self.machine, self.sink, self.events = upstream, machine, sink, events
        self.record = record
        self.clock = upstream.clock
        self.scrubber = upstream.scrubber.stream(whole_events=events)
        self.limit, self.setting = limit, setting
        self.keepalive, self.ping_seconds = keepalive, ping_seconds

    async def run(self) -> None:
        """Relays until the body ends, fails or the client leaves; raises RelayFailed when it failed before the
        client got a byte."""
        machine, sink, clock, exchange = self.machine, self.sink, self.clock, self.sink.exchange
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
                if machine.started and not await sink.write(self.keepalive):
                    return None
                continue
            except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as error:
                return broken(clock.backend, error, self.events)
            if not chunk:
                end = self.scrubber.feed(machine.finish()) + self.scrubber.flush()
                self._recorded(machine, exchange)
                if end and not await sink.write(end):
                    return None
                exchange.delivered = exchange.delivered or machine.delivered
                return None
            received += len(chunk)
            if received > self.limit:
                return too_large(clock.backend, self.limit, self.setting)
            now = loop.time()
            if self.keepalive:
                ping_at = now + self.ping_seconds
            out = machine.feed(chunk)
            if machine.progress != seen:
                seen = machine.progress
                clock.progressed(now)
            if machine.delivered:
                self._recorded(machine, exchange)
            if out:
                if not await sink.write(self.scrubber.feed(out)):
                    return None
                clock.excuse(loop.time() - now)
            if machine.delivered:
                exchange.delivered = True
            if machine.finished:
                return None

    def _recorded(self, machine: StreamMachine, exchange: Exchange) -> None:
        """The answer is complete: its record goes to the journal before the bytes that complete it go to the
        client, so a frontend killed right after the client has its answer has the record on disk."""
        if self.record is None or exchange.recorded or not self.sink.open or exchange.error_type:
            return
        if not machine.delivered:  # the machine ended it with an error: its caller records that (issue 16)
            return
        exchange.delivered = True
        exchange.usage = machine.upstream_usage()
        exchange.finish()
        self.record(exchange)

    async def _fail(self, failure: Failure) -> None:
        if not self.sink.open:
            raise RelayFailed(failure)
        self.sink.exchange.settle(failure.status, failure.error_type)
        if not self.events:
            self.sink.abort()  # no way to say it in-band
            return
        ending = self.machine.fail(failure.message, failure.error_type)
        await self.sink.write(self.scrubber.feed(ending) + self.scrubber.flush())


async def read_whole(request: web.Request, upstream: Upstream, machine: StreamMachine, exchange: Exchange,
                     limit: int, setting: str) -> bytes:
    """The whole body (scrubbed), read under the same deadlines and bound; RelayFailed when it cannot be had."""
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
