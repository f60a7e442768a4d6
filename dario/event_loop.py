"""The frontend's event loop: uvloop by default, asyncio's own with DARIO_UVLOOP=0.

uvloop (libuv underneath) is the loop aiohttp recommends; the frontend spends much of a request in loopback sends
and epoll, where uvloop costs less CPU than asyncio's loop (docs/architecture.md "Performance"). grpc.aio runs on
it too (the frontend's clients of both services do). The two gRPC services stay on asyncio's loop: the bench saw
no CPU saved there, and uvloop adds about 2 MB to a process's RSS.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from dario.config import Environment

T = TypeVar("T")


def loop_factory(environment: Environment) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's new_event_loop, or None (asyncio's default) when DARIO_UVLOOP=0 or uvloop is not installed."""
    if not environment.uvloop:
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], environment: Environment) -> T:
    """asyncio.run(main) on the loop loop_factory chooses."""
    with asyncio.Runner(loop_factory=loop_factory(environment)) as runner:
        return runner.run(main)
