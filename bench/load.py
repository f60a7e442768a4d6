"""The bounded load loop (a request count and a time cap) and the resident-memory sampler the bench runs beside it."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import pathlib
import statistics
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

import aiohttp

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello to the benchmark"}]}


@dataclass
class Run:
    target: str
    mode: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    ttfb_p50_ms: float
    ttfb_p99_ms: float
    error_kinds: dict[str, int] = field(default_factory=dict)  # "HTTP 503" or an exception's name: count

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


async def one_request(session: aiohttp.ClientSession, url: str, stream: bool) -> tuple[int, float, float]:
    """(status, latency to the end of the body, time to its first byte), in milliseconds."""
    body = dict(BODY, stream=stream)
    started = time.perf_counter()
    first = 0.0
    async with session.post(url, json=body) as answer:
        async for _ in answer.content.iter_any():
            if not first:
                first = time.perf_counter()
        status = answer.status
    finished = time.perf_counter()
    return status, (finished - started) * 1000, ((first or finished) - started) * 1000


async def load(target: str, base_url: str, stream: bool, concurrency: int, count: int, seconds: float) -> Run:
    """Up to `count` requests from `concurrency` workers, none started after `seconds`; each capped at 30 s."""
    url = f"{base_url}/chat/completions"
    latencies: list[float] = []
    firsts: list[float] = []
    errors: collections.Counter[str] = collections.Counter()
    issued = 0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency + 4)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def worker() -> None:
            nonlocal issued
            while issued < count and time.monotonic() < deadline:
                issued += 1
                try:
                    status, latency, first = await one_request(session, url, stream)
                except (aiohttp.ClientError, TimeoutError) as error:
                    errors[type(error).__name__] += 1
                    continue
                if status == 200:
                    latencies.append(latency)
                    firsts.append(first)
                else:
                    errors[f"HTTP {status}"] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Run(
        target,
        "stream" if stream else "plain",
        concurrency,
        len(latencies),
        sum(errors.values()),
        elapsed,
        statistics.median(latencies) if latencies else float("nan"),
        percentile(latencies, 0.99),
        statistics.median(firsts) if firsts else float("nan"),
        percentile(firsts, 0.99),
        dict(errors),
    )


def resident_memory_mb(pids: Iterable[int]) -> float:
    """Sum of VmRSS of these processes (those that have exited count as nothing)."""
    total_kb = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
    return total_kb / 1024


def pids_with_environment(name: str, value: str) -> list[int]:
    """The processes whose environment has name=value (how the bench finds the dario processes of its DARIO_HOME)."""
    wanted = f"{name}={value}".encode()
    found = []
    for environ in pathlib.Path("/proc").glob("[0-9]*/environ"):
        with contextlib.suppress(OSError):
            if wanted in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
    return found


def process_tree(root: int) -> list[int]:
    """root and all its descendants (LiteLLM may start workers)."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # the command name in parentheses may hold spaces: the parent pid is the 2nd field after the last ')'
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children[parent].append(int(stat.parent.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


@dataclass
class Memory:
    processes: int = 0
    peak_mb: float = 0.0  # the highest sum seen while the load ran
    after_mb: float = 0.0  # the sum once the load was over


@contextlib.asynccontextmanager
async def sampled_memory(pids: list[int], interval: float = 0.25) -> AsyncIterator[Memory]:
    """Samples the summed RSS of pids every interval while the block runs; the peak, and the figure after it."""
    memory = Memory(processes=len(pids))

    async def sample() -> None:
        while True:
            memory.peak_mb = max(memory.peak_mb, resident_memory_mb(pids))
            await asyncio.sleep(interval)

    sampler = asyncio.create_task(sample())
    try:
        yield memory
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        memory.after_mb = resident_memory_mb(pids)
        memory.peak_mb = max(memory.peak_mb, memory.after_mb)
