"""A TCP proxy on 127.0.0.1 a test can cut and restore: `cut()` drops every connection and refuses new ones,
`restore()` forwards again on the same port. Lets a test take a shared service (Redis) away from dario without
stopping the service itself, which other tests and processes on the machine may be using."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, port: int = 0) -> None:
        self.target_host, self.target_port, self.port = target_host, target_port, port
        self.connections = 0  # accepted since start
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await self.cut()

    async def cut(self) -> None:
        """Stops listening and closes every open connection (both sides see the connection drop)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        """Listens again on the same port."""
        if self._server is None:
            await self.start()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, upstream_writer))
        try:
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        finally:
            for side in (writer, upstream_writer):
                self._writers.discard(side)
                side.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()


class ThreadedTcpProxy:
    """A TcpProxy on its own event loop in a daemon thread, for tests whose dario runs in other processes:
    `with ThreadedTcpProxy(host, port) as proxy: … proxy.cut() … proxy.restore()`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.proxy = TcpProxy(target_host, target_port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)

    @property
    def url(self) -> str:
        return self.proxy.url

    def _run(self, step: Coroutine[object, object, None]) -> None:
        asyncio.run_coroutine_threadsafe(step, self._loop).result(10)

    def cut(self) -> None:
        self._run(self.proxy.cut())

    def restore(self) -> None:
        self._run(self.proxy.restore())

    def __enter__(self) -> ThreadedTcpProxy:
        self._thread.start()
        self._run(self.proxy.start())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._run(self.proxy.stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
