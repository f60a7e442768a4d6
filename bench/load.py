"""The bounded load loop (a request count and a time cap), the probe a load starts with, and the resident-memory
sampler the bench runs beside the loads."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp

from bench.procstat import Process, children_of, cpu_snapshot, pss_mb, rss_mb
from bench.workloads import Request

REQUEST_TIMEOUT_SECONDS = 30.0


@dataclass
class Run:
    target: str  # direct, dario, litellm, portkey
    path: str  # a workloads.Path's name
    mode: str  # plain or stream
    concurrency: int
    requests: int  # answered with 200
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    ttfb_p50_ms: float
    ttfb_p99_ms: float
    error_kinds: dict[str, int] = field(default_factory=dict)  # "HTTP 503" or an exception's name: count
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # process name: user+system CPU spent in the run

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def cpu_ms_per_request(self, process: str) -> float:
        attempted = self.requests + self.errors
        return self.cpu_seconds.get(process, float("nan")) * 1000 / attempted if attempted else float("nan")


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


HEADERS = {"content-type": "application/json", "anthropic-version": "2023-06-01"}


async def one_request(session: aiohttp.ClientSession, url: str, request: Request,
                      headers: dict[str, str]) -> tuple[int, float, float]:
    """(status, latency to the end of the body, time to its first byte), in milliseconds."""
    started = time.perf_counter()
    first = 0.0
    async with session.post(url, data=request.body, headers=headers) as answer:
        async for _ in answer.content.iter_any():
            if not first:
                first = time.perf_counter()
        status = answer.status
    finished = time.perf_counter()
    return status, (finished - started) * 1000, ((first or finished) - started) * 1000


async def upstream_seen(session: aiohttp.ClientSession, upstream_url: str) -> dict[str, int]:
    """The endpoints the bench upstream was asked since the last call (bench/upstream.py)."""
    async with session.get(f"{upstream_url}/models", params={"seen": "1"},
                           headers={"authorization": "Bearer bench"}) as answer:
        return dict(await answer.json())


async def probe(base_url: str, request: Request, headers: dict[str, str], upstream_url: str = "",
                expected: str = "") -> str:
    """One request; '' when it is answered 200 with a body that holds the endpoint's end mark (and, given
    upstream_url, the upstream was asked only at `expected`), else what was wrong."""
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            if upstream_url:
                await upstream_seen(session, upstream_url)
            async with session.post(f"{base_url}{request.endpoint}", data=request.body,
                                    headers={**HEADERS, **headers}) as answer:
                body = await answer.read()
            seen = await upstream_seen(session, upstream_url) if upstream_url else {}
    except (aiohttp.ClientError, TimeoutError) as error:
        return f"{type(error).__name__}: {error}"[:300]
    if upstream_url and set(seen) - {expected}:
        return (f"it asked the upstream at {', '.join(sorted(seen))} instead of {expected} (what a "
                f"{'Chat-only' if expected == '/chat/completions' else 'Messages-only'} backend serves)")
    if answer.status != 200:
        return f"HTTP {answer.status}: {body[:240].decode(errors='replace')}"
    if request.done_mark not in body:
        return (f"200 without {request.done_mark.decode()}: {body[:120].decode(errors='replace')} … "
                f"{body[-160:].decode(errors='replace')}")
    return ""


async def load(target: str, path: str, base_url: str, request: Request, headers: dict[str, str], concurrency: int,
               count: int, seconds: float, processes: tuple[Process, ...] = ()) -> Run:
    """Up to `count` requests from `concurrency` workers, none started after `seconds`; each capped at 30 s. The CPU
    of `processes` is read before and after."""
    url = f"{base_url}{request.endpoint}"
    sent = {**HEADERS, **headers}
    latencies: list[float] = []
    firsts: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    issued = 0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency + 4)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            nonlocal issued
            while issued < count and time.monotonic() < deadline:
                issued += 1
                try:
                    status, latency, first = await one_request(session, url, request, sent)
                except (aiohttp.ClientError, TimeoutError) as error:
                    errors[type(error).__name__] += 1
                    continue
                if status == 200:
                    latencies.append(latency)
                    firsts.append(first)
                else:
                    errors[f"HTTP {status}"] += 1

        cpu_before = cpu_snapshot(list(processes))
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu_after = cpu_snapshot(list(processes))
    return Run(
        target,
        path,
        "stream" if request.stream else "plain",
        concurrency,
        len(latencies),
        sum(errors.values()),
        elapsed,
        statistics.median(latencies) if latencies else float("nan"),
        percentile(latencies, 0.99),
        statistics.median(firsts) if firsts else float("nan"),
        percentile(firsts, 0.99),
        dict(errors),
        {name: round(cpu_after[name] - cpu_before[name], 3) for name in cpu_before},
    )


@dataclass
class Memory:
    processes: int = 0
    peak_mb: float = 0.0  # the highest sum of VmRSS seen while the loads ran
    after_mb: float = 0.0  # the sum once the loads were over
    after_pss_mb: float = 0.0  # the sum of PSS once the loads were over (shared library pages counted once)


@contextlib.asynccontextmanager
async def sampled_memory(processes: list[Process], interval: float = 0.25) -> AsyncIterator[Memory]:
    """Samples the summed RSS of the processes every interval while the block runs; the peak, and the figure after
    (with the PSS, too costly to sample: procstat.pss_kb)."""
    memory = Memory(processes=len(processes))

    def total() -> float:
        children = children_of()  # one walk of /proc for all the processes
        return sum(rss_mb(process.pid, children) for process in processes)

    async def sample() -> None:
        while True:
            memory.peak_mb = max(memory.peak_mb, total())
            await asyncio.sleep(interval)

    sampler = asyncio.create_task(sample())
    try:
        yield memory
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        children = children_of()
        memory.after_mb = sum(rss_mb(process.pid, children) for process in processes)
        memory.after_pss_mb = sum(pss_mb(process.pid, children) for process in processes)
        memory.peak_mb = max(memory.peak_mb, memory.after_mb)
