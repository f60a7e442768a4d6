"""Serves an asyncio server object (anything with async start() and stop()) from a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class Startable(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


Server = TypeVar("Server", bound=Startable)


class Threaded(Generic[Server]):
    """`with Threaded(server) as running:` runs server on its own event loop in a daemon thread."""

    def __init__(self, server: Server, name: str = "test-server") -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)

    def __enter__(self) -> Server:
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(10)
        except BaseException:
            self._close_loop()
            raise
        return self.server

    def __exit__(self, *exc: object) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(10)
        finally:
            self._close_loop()

    def _close_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()


class Listening(Startable, Protocol):
    @property
    def base_url(self) -> str: ...


async def serve_until_terminated(server: Listening, tick: Callable[[], None] | None = None,
                                 tick_seconds: float = 1.0) -> None:
    """Runs a test server as a process of its own: prints `listening on URL`, serves until SIGTERM or SIGINT
    (calling `tick` every `tick_seconds` meanwhile, when given), then stops it."""
    await server.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stopping.set)
    print(f"listening on {server.base_url}", flush=True)
    try:
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), tick_seconds if tick is not None else None)
            if tick is not None:
                tick()
    finally:
        await server.stop()
