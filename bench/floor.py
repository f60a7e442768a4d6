"""What is dario's own and what is the HTTP hop's: dario beside a bare aiohttp relay (bench/relay.py), both against
the same scripted upstream and against calling it directly, in one run.

    .venv/bin/python -m bench.floor [--rounds 2] [--c1-requests 300] [--requests 2000] [--delay-ms 20]

The relay runs on the same aiohttp and uvloop as dario's frontend and does nothing but pass requests and answers
on: its added latency is the floor any aiohttp proxy pays on this machine; dario's minus the relay's is what
dario's own work (routing, leases, records, limits, the header policy) costs. Pass-through paths only (the relay
translates nothing), plain and streaming, at c=1 and c=64; each round runs direct, relay and dario in turn per
load, so all three see the same moment's noise. Prints a table and writes it to bench/results/floor.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import pathlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator

from bench.load import Run, load
from bench.procstat import Process
from bench.stack import dario_stack, direct_headers, listening_module, upstream_process
from bench.workloads import Path, paths
from dario.testing.processes import REPO
from dario.testing.supervised import free_port

PATHS = ("chat", "anthropic")
LOADS = ((False, 1), (False, 64), (True, 1), (True, 64))


@contextlib.contextmanager
def relay_process(upstream_url: str) -> Iterator[tuple[str, Process]]:
    with listening_module("the relay", ["bench.relay", "--upstream", upstream_url, "--port", str(free_port())]) \
            as (url, pid):
        yield url, Process("relay", "relay", pid)


def table(rows: list[tuple[str, str, int, float, float, float, float, float, float, float, float]]) -> str:
    lines = ["| path | mode | c | direct p50 ms | relay +p50 | dario +p50 | dario's own (dario − relay) | "
             "direct req/s | relay req/s | dario req/s | relay CPU ms/req | dario frontend CPU ms/req |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (path, mode, concurrency, direct, relay, dario, direct_rate, relay_rate, dario_rate, relay_cpu,
         dario_cpu) in rows:
        lines.append(f"| {path} | {mode} | {concurrency} | {direct:.2f} | {relay:+.2f} | {dario:+.2f} | "
                     f"{dario - relay:+.2f} | {direct_rate:.0f} | {relay_rate:.0f} | {dario_rate:.0f} | "
                     f"{relay_cpu:.3f} | {dario_cpu:.3f} |")
    return "\n".join(lines)


async def one_round(path: Path, stream: bool, concurrency: int, count: int, upstream: str, relay: str,
                    relay_process_: Process, dario: str, dario_processes: tuple[Process, ...]) -> tuple[Run, ...]:
    direct = await load("direct", path.name, upstream, path.direct(stream), direct_headers(path), concurrency, count,
                        15)
    relayed = await load("relay", path.name, relay, path.direct(stream), direct_headers(path), concurrency, count, 15,
                         (relay_process_,))
    through = await load("dario", path.name, dario, path.client(stream), {}, concurrency, count, 15,
                         dario_processes)
    return direct, relayed, through


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each load per target (medians are shown)")
    parser.add_argument("--c1-requests", type=int, default=300)
    parser.add_argument("--requests", type=int, default=2000, help="requests per load at c=64")
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--out", type=pathlib.Path, default=REPO / "bench" / "results" / "floor.md")
    arguments = parser.parse_args(argv)
    chosen = [path for path in paths() if path.name in PATHS]
    rows = []
    errors = 0
    started = time.monotonic()
    with (tempfile.TemporaryDirectory(prefix="dario-floor-") as scratch,
          upstream_process(arguments.delay_ms) as (url, _), relay_process(url) as (relay_url, relay),
          dario_stack(pathlib.Path(scratch) / "home", url) as dario):
        for path in chosen:  # warm-up: connections, leases, lazy imports
            asyncio.run(load("warmup", path.name, dario.base_url, path.client(False), {}, 4, 40, 10))
            asyncio.run(load("warmup", path.name, relay_url, path.direct(False), direct_headers(path), 4, 40, 10))
        for path in chosen:
            for stream, concurrency in LOADS:
                count = arguments.c1_requests if concurrency == 1 else arguments.requests
                rounds = [asyncio.run(one_round(path, stream, concurrency, count, url, relay_url, relay,
                                                dario.base_url, dario.processes)) for _ in range(arguments.rounds)]
                errors += sum(run.errors for round_ in rounds for run in round_)

                def median(index: int, value: str, rounds: list[tuple[Run, ...]] = rounds) -> float:
                    return statistics.median(getattr(round_[index], value) for round_ in rounds)

                def cpu(index: int, process: str, rounds: list[tuple[Run, ...]] = rounds) -> float:
                    return statistics.median(round_[index].cpu_ms_per_request(process) for round_ in rounds)

                direct = median(0, "p50_ms")
                row = (path.name, "stream" if stream else "plain", concurrency, direct, median(1, "p50_ms") - direct,
                       median(2, "p50_ms") - direct, median(0, "throughput"), median(1, "throughput"),
                       median(2, "throughput"),
                       cpu(1, "relay"), cpu(2, "frontend"))
                rows.append(row)
                print(table([row]).splitlines()[-1], flush=True)
    text = (f"dario beside a bare aiohttp relay, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
            f"`python -m bench.floor {' '.join(argv if argv is not None else sys.argv[1:])}`; scripted upstream "
            f"with {arguments.delay_ms:g} ms delay, median of {arguments.rounds} rounds, "
            f"{time.monotonic() - started:.0f} s in all.\n\n{table(rows)}\n")
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(text)
    print(text)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
