"""Upstream bodies too large to hold (architecture.md, Security), against the real frontend: gzip bombs, huge answers to
translate, huge error bodies. Each ends with an error naming its [limits] setting, the frontend's memory stays
bounded, and other requests are answered meanwhile."""

from __future__ import annotations

import asyncio
import json
import pathlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import aiohttp
import pytest

from dario.testing.hostile import HostileBody, request_body
from dario.testing.processes import running_module
from dario.testing.scripted_upstream import Script, ScriptedUpstream, ThreadedUpstream
from dario.testing.stack import running_services, wait_routable, write_limits
from dario.testing.supervised import free_port
from tests.integration.conftest import async_analytics_rows

pytestmark = pytest.mark.timeout(180)
MIB, GIB = 1 << 20, 1 << 30
BODY_LIMIT = 16 * MIB
RSS_GROWTH_MIB = 200  # generous: the bound is 16 MiB; the bodies below are 1 GiB, 200 MiB and 50 MiB
ANSWER_HEAD = b'{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant",' \
              b'"content":"'
ANSWER_TAIL = b'"},"finish_reason":"stop"}]}'
CHAT_EVENT = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,' \
             b'"delta":{"content":"xxxxxxxxxxxxxxxx"},"finish_reason":null}]}\n\n'


@dataclass
class Frontend:
    base: str
    pid: int
    home: pathlib.Path
    upstream: ScriptedUpstream


async def wait_routable_async(base: str) -> None:
    async with aiohttp.ClientSession() as session:
        await wait_routable(session, base)


@pytest.fixture(scope="module")
def frontend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Frontend]:
    home, port = tmp_path_factory.mktemp("bodies") / "home", free_port()
    write_limits(home, upstream_body_bytes=BODY_LIMIT)
    with ThreadedUpstream() as upstream, running_services(home) as services:
        services.add_backend("gpt-up", upstream.base_url, "test-key-openai-bodies-0123456789", kind="openai")
        with running_module("frontend", home, arguments=("--port", str(port))) as process:
            asyncio.run(wait_routable_async(f"http://127.0.0.1:{port}"))
            yield Frontend(f"http://127.0.0.1:{port}", process.pid, home, upstream)


def rss_mib(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


class PeakRss:
    """Samples a process's resident memory every 20 ms while the block runs; `growth` is the peak over the start."""

    def __init__(self, pid: int) -> None:
        self.pid, self.start, self.peak = pid, rss_mib(pid), 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self.peak = max(self.peak, rss_mib(self.pid))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(5)
        self.peak = max(self.peak, rss_mib(self.pid))

    @property
    def growth(self) -> float:
        return self.peak - self.start


@pytest.fixture
async def session(frontend: Frontend) -> AsyncIterator[aiohttp.ClientSession]:
    frontend.upstream.clear()
    async with aiohttp.ClientSession(base_url=frontend.base) as client:
        warm = request_body("/v1/chat/completions", "gpt-4o")  # a first answer: the baseline is steady
        async with client.post("/v1/chat/completions", json=warm) as answer:
            assert answer.status == 200
        yield client


async def meanwhile(client: aiohttp.ClientSession, hostile: asyncio.Task, frontend: Frontend) -> float:
    """While the hostile request runs: ordinary requests still answered; the slowest one's seconds."""
    slowest = 0.0
    while not hostile.done():
        started = time.monotonic()
        async with client.get("/") as answer:
            assert answer.status == 200
        slowest = max(slowest, time.monotonic() - started)
        await asyncio.sleep(0.02)
    frontend.upstream.push(Script(content="still here"))
    async with client.post("/v1/chat/completions", json=request_body("/v1/chat/completions", "gpt-4o")) as answer:
        assert (await answer.json())["choices"][0]["message"]["content"] == "still here"
    return slowest


async def hostile_request(client: aiohttp.ClientSession, path: str, stream: bool) -> tuple[int, bytes, str]:
    async with client.post(path, json=request_body(path, "gpt-4o", stream)) as answer:
        try:
            body = await answer.read()
        except aiohttp.ClientPayloadError:
            body = b"<broken>"
        return answer.status, body, answer.headers["request-id"]


async def run(frontend: Frontend, client: aiohttp.ClientSession, script: Script, path: str,
              stream: bool = False) -> tuple[int, bytes, dict]:
    frontend.upstream.push(script)
    with PeakRss(frontend.pid) as rss:
        task = asyncio.create_task(hostile_request(client, path, stream))
        await meanwhile(client, task, frontend)
        status, body, request_id = await task
    assert rss.growth < RSS_GROWTH_MIB, f"frontend RSS grew {rss.growth:.0f} MiB"
    row = (await async_analytics_rows(frontend.home, [request_id]))[request_id]
    return status, body, row


def bomb(content_type: str = "application/json", head: bytes = ANSWER_HEAD, filler: bytes = b"a") -> Script:
    return Script(hostile=HostileBody(head=head, filler=filler, size=GIB, tail=ANSWER_TAIL, gzip=True,
                                      content_type=content_type))


async def test_a_gzip_bomb_passed_through_is_cut_at_the_limit(frontend: Frontend,
                                                              session: aiohttp.ClientSession) -> None:
    status, body, row = await run(frontend, session, bomb(), "/v1/chat/completions")
    assert status == 200 and body == b"<broken>"  # streamed past the first MiB, then the connection is broken
    assert (row["status"], row["error_type"]) == (502, "upstream_body_too_large")


async def test_a_gzip_bomb_to_translate_is_a_502_naming_the_limit(frontend: Frontend,
                                                                  session: aiohttp.ClientSession) -> None:
    status, body, row = await run(frontend, session, bomb(), "/v1/messages")
    error = json.loads(body)["error"]
    assert status == 502 and error["type"] == "api_error"
    assert "upstream_body_bytes" in error["message"] and str(BODY_LIMIT) in error["message"]
    assert (row["status"], row["error_type"]) == (502, "upstream_body_too_large")


async def test_a_gzip_bombed_stream_ends_with_an_error_event_naming_the_limit(
        frontend: Frontend, session: aiohttp.ClientSession) -> None:
    script = bomb("text/event-stream", head=CHAT_EVENT, filler=CHAT_EVENT)
    status, body, row = await run(frontend, session, script, "/v1/chat/completions", stream=True)
    # A Chat stream ends with its error chunk, then [DONE] (docs/translation.md, stream endings).
    events = body.rstrip().split(b"\n\n")
    assert events[-1] == b"data: [DONE]" and body.count(b"[DONE]") == 1
    last = json.loads(events[-2].removeprefix(b"data: "))
    assert status == 200 and "upstream_body_bytes" in last["error"]["message"]
    assert (row["status"], row["error_type"]) == (502, "upstream_body_too_large")


async def test_a_huge_answer_to_translate_is_a_502_naming_the_limit(frontend: Frontend,
                                                                    session: aiohttp.ClientSession) -> None:
    script = Script(hostile=HostileBody(head=ANSWER_HEAD, filler=b"a", size=200 * MIB, tail=ANSWER_TAIL))
    status, body, row = await run(frontend, session, script, "/v1/messages")
    assert status == 502 and "upstream_body_bytes" in json.loads(body)["error"]["message"]
    assert (row["status"], row["error_type"]) == (502, "upstream_body_too_large")


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
async def test_a_huge_error_body_is_a_502_naming_the_limit(frontend: Frontend, session: aiohttp.ClientSession,
                                                           path: str) -> None:
    script = Script(status=500, hostile=HostileBody(head=b'{"error":{"message":"', filler=b"e", size=50 * MIB,
                                                    tail=b'"}}'))
    status, body, row = await run(frontend, session, script, path)
    assert status == 502 and "upstream_error_bytes" in json.dumps(json.loads(body))
    assert (row["status"], row["error_type"]) == (502, "upstream_body_too_large")


async def test_a_large_translated_answer_leaves_the_event_loop_free(frontend: Frontend,
                                                                    session: aiohttp.ClientSession) -> None:
    """Item 11: a 12 MiB answer of 100,000 tool calls, translated whole, while other requests come in (before:
    parsed, translated and encoded on the event loop, ~1.4 s of it blocked at once)."""
    calls = [{"id": f"call_{number}", "type": "function", "function": {
        "name": "get_weather", "arguments": json.dumps({"city": "Paris", "n": number})}} for number in range(100_000)]
    answer = json.dumps({"id": "x", "object": "chat.completion", "model": "m", "choices": [{
        "index": 0, "message": {"role": "assistant", "content": None, "tool_calls": calls},
        "finish_reason": "tool_calls"}]}).encode()
    assert len(answer) < BODY_LIMIT
    frontend.upstream.push(Script(hostile=HostileBody(head=answer, size=len(answer))))
    started = time.monotonic()
    task = asyncio.create_task(hostile_request(session, "/v1/messages", False))
    slowest = await meanwhile(session, task, frontend)
    status, body, _ = await task
    took = time.monotonic() - started
    assert status == 200 and len(json.loads(body)["content"]) == 100_000
    # A ratio within this run, not a time (the machine may be loaded): translated on the event loop, the parse,
    # translation and encoding blocked it for most of the hostile request's own time; off it, other requests wait
    # a small part of it.
    assert slowest < 0.4 * took, f"another request waited {slowest:.2f}s of the hostile request's {took:.2f}s"
