"""dario's added latency and throughput against calling the same scripted upstream directly, in one run.

    .venv/bin/python bench/bench.py [--requests 1000] [--seconds 20] [--delay-ms 20] [--out bench/results]

Starts the scripted upstream (its own process, a fixed delay before answering), the three dario processes in a
temporary DARIO_HOME, then for non-streaming and streaming requests at concurrency 1 and 64 runs a bounded load
(a request count and a time cap) first directly, then through dario. Figures are reported next to the direct
run measured in the same run, as differences and ratios. Exits 1 when any run saw an error.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import pathlib
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field

import aiohttp

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.processes import environment, running_module, stop_process  # noqa: E402
from tests.support.supervised import free_port  # noqa: E402

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
    return Run(target, "stream" if stream else "plain", concurrency, len(latencies), sum(errors.values()), elapsed,
               statistics.median(latencies) if latencies else float("nan"), percentile(latencies, 0.99),
               statistics.median(firsts) if firsts else float("nan"), percentile(firsts, 0.99), dict(errors))


@contextlib.contextmanager
def upstream_process(delay_ms: float):
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.scripted_upstream", "--port", "0", "--delay-ms", str(delay_ms)],
        cwd=REPO, stdout=subprocess.PIPE, text=True, env=environment(pathlib.Path(tempfile.gettempdir())),
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 20.0)
        line = process.stdout.readline().strip() if ready else ""
        if not line.startswith("listening on "):
            raise RuntimeError(f"scripted upstream did not start: {line!r}")
        yield line.removeprefix("listening on ")
    finally:
        stop_process(process)


@contextlib.contextmanager
def dario_stack(home: pathlib.Path, upstream_url: str):
    port = free_port()
    with running_module("credential_service", home, home / "run" / "credential.sock"), running_module(
        "pool_service", home, home / "run" / "pool.sock"
    ), running_module("frontend", home, arguments=("--port", str(port))):
        added = subprocess.run(
            [sys.executable, "-m", "dario.cli.main", "backend", "add", "bench", "--kind", "openai",
             "--base-url", upstream_url, "--key-env", "BENCH_KEY"],
            env=environment(home, {"BENCH_KEY": "bench-key-not-secret"}), capture_output=True, text=True, cwd=REPO,
        )
        if added.returncode != 0:
            raise RuntimeError(added.stderr)
        base = f"http://127.0.0.1:{port}"
        wait_until_routed(base)
        yield f"{base}/v1"


def wait_until_routed(base: str, deadline_seconds: float = 30.0) -> None:
    """Waits until /health says ok and the frontend knows the backend. Never through a proxy: loopback only."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            with opener.open(f"{base}/health", timeout=2) as answer:
                document = json.loads(answer.read())
                if document.get("status") == "ok" and document.get("backends"):
                    return
        time.sleep(0.1)
    raise TimeoutError("dario did not become healthy")


def resident_memory_mb(home: pathlib.Path) -> float:
    """Sum of VmRSS of the processes whose environment is this bench's DARIO_HOME."""
    total_kb = 0
    for status in pathlib.Path("/proc").glob("[0-9]*/environ"):
        with contextlib.suppress(OSError):
            if f"DARIO_HOME={home}".encode() in status.read_bytes().split(b"\0"):
                for line in (status.parent / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
    return total_kb / 1024


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}" if base else "n/a"


def table(runs: list[Run]) -> str:
    direct = {(run.mode, run.concurrency): run for run in runs if run.target == "direct"}
    lines = [
        "| mode | concurrency | target | ok | errors | p50 ms | p99 ms | added p50 ms | added p99 ms | p50 ratio | "
        "p99 ratio | TTFB p50 ms | TTFB p99 ms | req/s | req/s ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        base = direct[(run.mode, run.concurrency)]
        lines.append(
            f"| {run.mode} | {run.concurrency} | {run.target} | {run.requests} | "
            f"{f'**{run.errors}**' if run.errors else 0} | {run.p50_ms:.2f} | {run.p99_ms:.2f} | "
            f"{run.p50_ms - base.p50_ms:+.2f} | {run.p99_ms - base.p99_ms:+.2f} | {ratio(run.p50_ms, base.p50_ms)} | "
            f"{ratio(run.p99_ms, base.p99_ms)} | {run.ttfb_p50_ms:.2f} | {run.ttfb_p99_ms:.2f} | "
            f"{run.throughput:.1f} | {ratio(run.throughput, base.throughput)} |"
        )
    failed = [run for run in runs if run.errors]
    for run in failed:
        kinds = ", ".join(f"{kind} x{count}" for kind, count in sorted(run.error_kinds.items()))
        lines.append(f"\nERRORS in {run.target} {run.mode} c={run.concurrency}: {kinds}")
    return "\n".join(lines)


async def measure(direct_url: str, dario_url: str, count: int, seconds: float) -> list[Run]:
    runs = []
    for url in (direct_url, dario_url):  # warm-up: connections, caches, the first lease
        warmup = await load("warmup", url, False, 4, 40, 10)
        if warmup.errors:
            print(f"warm-up against {url} saw errors: {warmup.error_kinds}", file=sys.stderr)
    for stream in (False, True):
        for concurrency in (1, 64):
            requests = count if concurrency > 1 else max(50, count // 3)
            runs.append(await load("direct", direct_url, stream, concurrency, requests, seconds))
            runs.append(await load("dario", dario_url, stream, concurrency, requests, seconds))
    return runs


def interrupt(number: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {number}")


def main() -> int:
    # SIGTERM unwinds like Ctrl-C, so the context managers stop every process this bench started.
    signal.signal(signal.SIGTERM, interrupt)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started in the background by a shell
        signal.signal(signal.SIGINT, interrupt)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="requests per run at concurrency 64")
    parser.add_argument("--seconds", type=float, default=20.0, help="time cap per run")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="upstream delay before answering")
    parser.add_argument("--out", type=pathlib.Path, default=REPO / "bench" / "results")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dario-bench-") as scratch:
        home = pathlib.Path(scratch) / "home"
        with upstream_process(arguments.delay_ms) as upstream_url, dario_stack(home, upstream_url) as dario_url:
            runs = asyncio.run(measure(upstream_url, dario_url, arguments.requests, arguments.seconds))
            memory = resident_memory_mb(home)
    report = table(runs) + f"\n\nResident memory of the three dario processes after the load: {memory:.0f} MB\n"
    header = (f"dario bench: upstream delay {arguments.delay_ms:.0f} ms, {arguments.requests} requests per "
              f"concurrency-64 run ({max(50, arguments.requests // 3)} at concurrency 1), cap "
              f"{arguments.seconds:.0f} s per run, {os.cpu_count()} CPUs. Latency: until the whole body is read; "
              f"TTFB: until its first byte.\n\n")
    print(header + report)
    arguments.out.mkdir(parents=True, exist_ok=True)
    (arguments.out / "bench.md").write_text(header + report)
    settings = {"delay_ms": arguments.delay_ms, "requests": arguments.requests, "seconds": arguments.seconds,
                "cpus": os.cpu_count()}
    (arguments.out / "bench.json").write_text(json.dumps(
        {"settings": settings, "runs": [asdict(run) | {"throughput": run.throughput} for run in runs],
         "resident_memory_mb": memory}, indent=1))
    return 1 if any(run.errors for run in runs) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("bench interrupted; everything it started is stopped", file=sys.stderr)
        sys.exit(130)
