"""The bench row "3 instances on one machine vs 1": throughput and added latency of dario instances sharing their
pools in Redis, against one instance with its pools in the process, in one run against the same upstream.

    .venv/bin/python -m bench.cluster [--requests 600] [--seconds 15] [--delay-ms 20] [--redis redis://127.0.0.1:6379/0]

Starts bench/upstream.py (its own process, a fixed delay before each answer) and, in turn: one instance without
[cluster] (the embedded default), one instance sharing its pools in Redis (what Redis alone costs), and three
instances sharing them (load spread round-robin, as a load balancer would). The backend is a pool of three keys,
so every request makes its Acquire (the path Redis is on). Each load is bounded: a request count and a time cap,
at concurrency 1 and 48. Figures are ratios and differences against the embedded instance in the same run. The
Redis keys live under a prefix of their own, deleted at the end. Exits 1 when a run saw an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import pathlib
import select
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import aiohttp

from bench.load import percentile
from dario.testing.cluster import Instance, forget_prefix, running_instances
from dario.testing.processes import REPO, environment, stop_process

CONFIG = '[[routes]]\nmatch = "*"\nbackend = "bench"\n[cluster]\nheartbeat_seconds = 1\n'
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello to the benchmark"}]}
CONCURRENCIES = (1, 48)


@dataclass
class Result:
    setup: str
    concurrency: int
    ok: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


@contextlib.contextmanager
def upstream_process(delay_ms: float) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.upstream", "--port", "0", "--delay-ms", str(delay_ms)],
        cwd=REPO, stdout=subprocess.PIPE, env=environment(pathlib.Path(tempfile.gettempdir())),
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 20.0)
        line = process.stdout.readline().decode(errors="replace").strip() if ready else ""
        if not line.startswith("listening on "):
            raise RuntimeError(f"the bench upstream did not start: {line!r}")
        yield line.removeprefix("listening on ")
    finally:
        stop_process(process)


async def drive(setup: str, urls: Sequence[str], concurrency: int, count: int, seconds: float) -> Result:
    """Up to count requests from concurrency workers, round-robin over urls, none started after seconds."""
    latencies: list[float] = []
    errors = 0
    issued = 0
    targets = itertools.cycle(urls)
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency + 4)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def worker() -> None:
            nonlocal issued, errors
            while issued < count and time.monotonic() < deadline:
                issued += 1
                started = time.perf_counter()
                try:
                    async with session.post(f"{next(targets)}/v1/chat/completions", json=BODY) as answer:
                        await answer.read()
                        status = answer.status
                except (aiohttp.ClientError, TimeoutError):
                    status = 0
                if status == 200:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Result(setup, concurrency, len(latencies), errors, elapsed,
                  statistics.median(latencies) if latencies else float("nan"), percentile(latencies, 0.99))


def add_pool(instances: Sequence[Instance], upstream: str) -> None:
    for instance in instances:
        for name in ("key-a", "key-b", "key-c"):
            instance.services.add_backend("bench", upstream, f"bench-{name}-0123456789", credential=name)
        instance.wait_health({"backends": 1})


async def measure(setup: str, instances: Sequence[Instance], count: int, seconds: float) -> list[Result]:
    urls = [instance.base_url for instance in instances]
    await drive(setup, urls, 4, 40, seconds)  # warm-up: connections, first Acquires, the Lua scripts' cache
    return [await drive(setup, urls, concurrency, count, seconds) for concurrency in CONCURRENCIES]


def table(results: list[Result]) -> str:
    baseline = {result.concurrency: result for result in results if result.setup == "1 instance, embedded"}
    lines = ["| setup | concurrency | ok | errors | req/s | × embedded | p50 ms | added p50 ms | p99 ms |",
             "|---|---|---|---|---|---|---|---|---|"]
    for result in results:
        base = baseline[result.concurrency]
        lines.append(f"| {result.setup} | {result.concurrency} | {result.ok} | {result.errors} | "
                     f"{result.throughput:.1f} | {result.throughput / base.throughput:.2f}× | {result.p50_ms:.1f} | "
                     f"{result.p50_ms - base.p50_ms:+.1f} | {result.p99_ms:.1f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=600, help="per run (default 600)")
    parser.add_argument("--seconds", type=float, default=15.0, help="time cap per run (default 15)")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="the upstream's delay before each answer")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    arguments = parser.parse_args()
    prefix = f"bench-{uuid.uuid4().hex[:12]}"
    results: list[Result] = []
    began = time.monotonic()
    try:
        with upstream_process(arguments.delay_ms) as upstream, tempfile.TemporaryDirectory() as root:
            for setup, count, redis_url in (("1 instance, embedded", 1, ""), ("1 instance, pools in Redis", 1,
                                                                              arguments.redis),
                                            ("3 instances, pools in Redis", 3, arguments.redis)):
                home = pathlib.Path(root) / setup.replace(" ", "-").replace(",", "")
                with running_instances(home, count, CONFIG, redis_url, prefix) as instances:
                    add_pool(instances, upstream)
                    results += asyncio.run(measure(setup, instances, arguments.requests, arguments.seconds))
    finally:
        forget_prefix(arguments.redis, prefix)
    print(f"3 instances on one machine vs 1 ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{time.monotonic() - began:.0f} s; upstream delay {arguments.delay_ms:.0f} ms; "
          f"up to {arguments.requests} requests or {arguments.seconds:.0f} s per run):\n")
    print(table(results))
    return 1 if any(result.errors for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
