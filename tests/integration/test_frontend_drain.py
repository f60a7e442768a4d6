"""SIGTERM to the frontend process: streams in flight finish, new connections are refused, it exits 0."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal

import aiohttp
import pytest

from dario.testing.processes import running_module
from dario.testing.scripted_upstream import Script, ThreadedUpstream
from dario.testing.stack import running_services, wait_routable
from dario.testing.supervised import free_port

pytestmark = pytest.mark.timeout(120)


async def test_sigterm_drains_a_stream_in_flight_then_exits(tmp_path: pathlib.Path) -> None:
    home, port = tmp_path / "home", free_port()
    base = f"http://127.0.0.1:{port}"
    with ThreadedUpstream() as upstream, running_services(home) as services:
        services.add_backend("s", upstream.base_url, "test-key-drain-0123456789")
        with running_module("frontend", home, arguments=("--port", str(port))) as frontend:
            async with aiohttp.ClientSession() as session:
                await wait_routable(session, base)
                upstream.push(Script(content="z" * 60, split=400, chunk_delay=0.1))
                body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "stream": True}
                async with session.post(f"{base}/v1/chat/completions", json=body) as answer:
                    first = await answer.content.readany()
                    os.kill(frontend.pid, signal.SIGTERM)
                    rest = await answer.read()
                assert (first + rest).rstrip().endswith(b"data: [DONE]")
                await asyncio.sleep(0.3)
                with pytest.raises(aiohttp.ClientConnectionError):
                    async with session.get(f"{base}/health") as answer:
                        await answer.read()
            assert await asyncio.to_thread(frontend.wait, 30) == 0
