"""The analytics report with a million rows: how long GET /analytics takes for each grouping and window.

    .venv/bin/python -m bench.analytics_rows [--rows 1000000] [--days 30] [--repeat 3]

Fills analytics.db in a temporary DARIO_HOME with --rows requests spread over --days (200 sessions, 20 projects,
8 clients, 10 models, 3 backends), starts the real pool_service (and credential_service) on it and the real
frontend, then times, for each window and grouping, the report three ways: reports.report() in this process,
pool_service's Analytics RPC, and GET /analytics. Prints a Markdown table (median of --repeat runs, in ms) and
writes it to bench/results/analytics_rows.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import grpc

from dario.testing.stack import running_frontend, running_services
from dario.v1 import pool_pb2, pool_pb2_grpc
from pool_service.analytics import COLUMNS, TABLE, open_database
from pool_service.reports import report

RESULTS = pathlib.Path(__file__).parent / "results"
DAY = 86_400.0
CLIENTS = ("claude-code", "codex", "aider", "llm", "opencode", "openai-python", "anthropic-python", "curl")
MODELS = ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1", "gpt-5", "gpt-5-codex", "gpt-4o",
          "gpt-4o-mini", "o3", "llama-3.3-70b", "qwen3-coder")
BACKENDS = (("anthropic", ("a1", "a2", "a3")), ("openai", ("o1", "o2")), ("groq", ("g1",)))
# (label, query string of GET /analytics, the same as AnalyticsRequest fields)
CASES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("default groupings", "", {}),
    ("by=session", "by=session", {"by": ["session"]}),
    ("by=project", "by=project", {"by": ["project"]}),
    ("by=client", "by=client", {"by": ["client"]}),
    ("by=session,project,client", "by=session,project,client", {"by": ["session", "project", "client"]}),
    ("session=ID (statusline)", "by=session&session=session-7", {"by": ["session"], "session": "session-7"}),
)
WINDOWS = (("1h", 3600.0), ("24h", DAY), ("7d", 7 * DAY))


def rows(count: int, days: float, now: float, seed: int = 14) -> Iterator[tuple[object, ...]]:
    """count plausible requests, newest last, as tuples in COLUMNS' order."""
    chooser = random.Random(seed)
    names = list(COLUMNS)
    for index in range(count):
        backend, credentials = chooser.choice(BACKENDS)
        number = chooser.randrange(200)
        session = f"session-{number}"  # a session has one client and one project, as a coding agent's has
        latency = chooser.lognormvariate(7.0, 0.8)
        values = {
            "request_id": f"req_{index:09d}", "started_at": now - days * DAY * (1 - index / count),
            "api_format": "anthropic", "backend": backend, "credential": chooser.choice(credentials),
            "model": chooser.choice(MODELS), "served_model": "", "status": 200 if chooser.random() > 0.02 else 429,
            "error_type": "", "latency_ms": latency, "ttfb_ms": latency / 5, "input_tokens": chooser.randrange(20_000),
            "output_tokens": chooser.randrange(2000), "cache_read_tokens": chooser.randrange(50_000),
            "reasoning_tokens": None, "stream": 1, "attempts": 1, "failover": "", "fallback_from": "",
            "queued_ms": 0.0, "cache_write_tokens": chooser.randrange(1000), "cost_usd": chooser.random() / 10,
            "client": CLIENTS[number % len(CLIENTS)], "session": session, "project": f"project-{number % 20}",
            "tags": "",
        }
        yield tuple(values.get(name) for name in names)


def fill(path: pathlib.Path, count: int, days: float, now: float) -> float:
    """Creates the database with pool_service's schema and indexes and inserts count rows; returns seconds taken."""
    started = time.perf_counter()
    open_database(path).close()
    connection = sqlite3.connect(path)
    marks = ", ".join("?" * len(COLUMNS))
    with connection:
        connection.executemany(f"insert into {TABLE} ({', '.join(COLUMNS)}) values ({marks})",
                               rows(count, days, now))
    connection.execute("analyze")
    connection.close()
    return time.perf_counter() - started


async def timed(action: Callable[[], Awaitable[object]], repeat: int) -> float:
    """Median milliseconds of repeat runs of action."""
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        await action()
        durations.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(durations)


def processor_time(action: Callable[[], object], repeat: int) -> float:
    """Median milliseconds of this process's CPU time over repeat runs of action: what the work costs, however
    loaded the machine is (wall times on a shared machine include waiting for a core)."""
    durations = []
    for _ in range(repeat):
        started = time.process_time()
        action()
        durations.append((time.process_time() - started) * 1000.0)
    return statistics.median(durations)


async def measure(home: pathlib.Path, repeat: int) -> list[tuple[str, str, float, float, float, float]]:
    """(window, case, in-process CPU ms, in-process ms, RPC ms, HTTP ms) for every window and case."""
    results = []
    with running_services(home) as services:
        async with running_frontend(services.config) as server, aiohttp.ClientSession() as session, \
                grpc.aio.insecure_channel(f"unix:{services.config.paths.pool_socket}") as channel:
            stub = pool_pb2_grpc.PoolStub(channel)
            database = services.config.paths.analytics_db
            for window_label, window in WINDOWS:
                for label, query, fields in CASES:
                    filters = {name: value for name, value in fields.items() if name != "by"}
                    by = list(fields.get("by", []))

                    async def direct(window: float = window, by: list[str] = by,
                                     filters: dict[str, object] = filters) -> object:
                        return await asyncio.to_thread(report, database, time.time(), window, None, by,
                                                       {name: str(value) for name, value in filters.items()})

                    async def rpc(window: float = window, fields: dict[str, Any] = fields) -> object:
                        return await stub.Analytics(pool_pb2.AnalyticsRequest(window_seconds=window, **fields),
                                                    timeout=120)

                    async def http(window: float = window, query: str = query) -> object:
                        url = server.make_url(f"/analytics?window={window:g}" + (f"&{query}" if query else ""))
                        async with session.get(url, timeout=aiohttp.ClientTimeout(total=120)) as answer:
                            assert answer.status == 200, await answer.text()
                            return await answer.read()

                    def cpu(window: float = window, by: list[str] = by,
                            filters: dict[str, object] = filters) -> object:
                        return report(database, time.time(), window, None, by,
                                      {name: str(value) for name, value in filters.items()})

                    results.append((window_label, label, processor_time(cpu, repeat), await timed(direct, repeat),
                                    await timed(rpc, repeat), await timed(http, repeat)))
                    print(" ".join([f"{window_label:>4} {label:<28}", *(f"{value:8.0f}" for value in results[-1][2:]),
                                    "ms"]), flush=True)
    return results


def table(results: list[tuple[str, str, float, float, float, float]], count: int, days: float,
          fill_seconds: float, load: tuple[float, float, float]) -> str:
    lines = [f"# GET /analytics with {count:,} rows over {days:g} days", "",
             f"Filled in {fill_seconds:.1f} s; about {count / days / 24:,.0f} rows an hour. Median of the runs, "
             f"milliseconds: the CPU time reports.report() takes in this process, then wall times of it, of "
             f"pool_service's Analytics RPC and of GET /analytics through the frontend. Load average at the end "
             f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores: wall times include waiting "
             f"for a core.", "",
             "| window | query | report() CPU | report() | Analytics RPC | GET /analytics |",
             "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {window} | {label} | {cpu:,.0f} | {direct:,.0f} | {rpc:,.0f} | {http:,.0f} |"
              for window, label, cpu, direct, rpc, http in results]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.analytics_rows", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dario-bench-analytics-") as folder:
        home = pathlib.Path(folder) / "home"
        home.mkdir(mode=0o700)
        fill_seconds = fill(home / "analytics.db", arguments.rows, arguments.days, time.time())
        print(f"filled {arguments.rows:,} rows in {fill_seconds:.1f} s", flush=True)
        results = asyncio.run(measure(home, arguments.repeat))
    text = table(results, arguments.rows, arguments.days, fill_seconds, os.getloadavg())
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "analytics_rows.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
