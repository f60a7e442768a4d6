"""The dashboard with a large analytics database (issue 14): `python -m bench.dashboard_rows [--rows 1000000]`.

Fills a temporary DARIO_HOME's analytics with ROWS requests spread over the last DAYS days, starts the supervised
stack on it, and times (median of --runs) what the dashboard asks for: GET /analytics, /analytics/timeline and
/analytics/requests over an hour, a day and a week, then each page of /ui in Debian's headless Chromium until it
has rendered its data. Figures are wall-clock milliseconds on this machine, printed as a table.
"""

from __future__ import annotations

import argparse
import pathlib
import random
import sqlite3
import statistics
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

from playwright.sync_api import Page, expect, sync_playwright

from dario.testing.supervised import supervised_stack
from pool_service.analytics import COLUMNS, open_database

WINDOWS = (("1 h", 3600), ("24 h", 86_400), ("7 d", 604_800))
MODELS = ("gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5", "claude-haiku-4-5", *(f"local-{index}" for index in range(20)))


def rows(count: int, days: float, now: float, seed: int = 14) -> Iterator[dict[str, object]]:
    generator = random.Random(seed)
    for index in range(count):
        status = 200 if generator.random() > 0.03 else generator.choice((429, 500, 401))
        yield {"request_id": f"bench-{index:08d}", "started_at": now - generator.random() * days * 86_400,
               "api_format": "openai", "backend": generator.choice(("pool", "solo", "claude")),
               "credential": generator.choice(("alpha", "beta")), "model": generator.choice(MODELS),
               "served_model": "", "status": status, "error_type": "", "latency_ms": generator.random() * 2000,
               "ttfb_ms": generator.random() * 500, "input_tokens": generator.randint(10, 5000),
               "output_tokens": generator.randint(1, 900), "cache_read_tokens": 0, "reasoning_tokens": None,
               "stream": 1, "attempts": 1, "failover": "", "fallback_from": "", "queued_ms": 0.0,
               "cache_write_tokens": 0, "cost_usd": generator.random() / 100,
               "client": generator.choice(("claude-code", "codex", "aider")),
               "session": f"session-{generator.randint(1, 500)}", "project": f"project-{generator.randint(1, 30)}",
               "tags": ""}


def fill(path: pathlib.Path, count: int, days: float) -> None:
    open_database(path).close()  # the schema, through the migrations
    names = list(COLUMNS)
    connection = sqlite3.connect(path)
    marks = ", ".join("?" * len(names))
    connection.executemany(f"insert into requests ({', '.join(names)}) values ({marks})",
                           ([row.get(name) for name in names] for row in rows(count, days, time.time())))
    connection.commit()
    connection.close()


def median_ms(action: Callable[[], object], runs: int) -> float | str:
    """The median in milliseconds, or what failed (an HTTP error such as the 504 of a report past its deadline)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        try:
            action()
        except urllib.error.HTTPError as error:
            return f"HTTP {error.code}"
        except AssertionError:  # a page that never rendered its data (the failure it shows instead)
            return "no data"
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def fetch(url: str) -> Callable[[], bytes]:
    def get() -> bytes:
        with urllib.request.urlopen(url, timeout=120) as answer:
            body: bytes = answer.read()
            return body
    return get


def page_load(page: Page, base: str, name: str, window: int | None = None) -> Callable[[], None]:
    def load() -> None:
        page.goto("about:blank")
        page.goto(f"{base}/ui#{name}" + (f"?window={window}" if window else ""))
        expect(page.locator(f"#page[data-page={name}][data-ready=true]")).to_be_attached(timeout=60_000)
        if window:
            expect(page.locator(f"#page[data-shown='{window}/backend']")).to_be_attached()
    return load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    results: list[tuple[str, float | str]] = []
    with tempfile.TemporaryDirectory() as folder:
        home = pathlib.Path(folder) / "home"
        home.mkdir(mode=0o700)
        started = time.perf_counter()
        fill(home / "analytics.db", arguments.rows, arguments.days)
        print(f"filled {arguments.rows:,} rows over {arguments.days:g} days in {time.perf_counter() - started:.1f} s")
        with supervised_stack(home) as stack:
            base = stack.base_url
            for label, window in WINDOWS:
                results.append((f"GET /analytics?window= ({label})", median_ms(
                    fetch(f"{base}/analytics?window={window}"), arguments.runs)))
                results.append((f"GET /analytics/timeline ({label}, by model)", median_ms(
                    fetch(f"{base}/analytics/timeline?window={window}&by=model"), arguments.runs)))
            results.append(("GET /analytics/requests (first page)", median_ms(
                fetch(f"{base}/analytics/requests?limit=50"), arguments.runs)))
            results.append(("GET /analytics/requests (model=local-7)", median_ms(
                fetch(f"{base}/analytics/requests?limit=50&model=local-7"), arguments.runs)))
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                for name in ("pools", "requests", "sessions", "config"):
                    results.append((f"/ui#{name} rendered", median_ms(page_load(page, base, name), arguments.runs)))
                for label, window in WINDOWS:
                    results.append((f"/ui#traffic rendered ({label})", median_ms(
                        page_load(page, base, "traffic", window), arguments.runs)))
                browser.close()
    width = max(len(label) for label, _ in results)
    print(f"{'what':<{width}}  median ms ({arguments.rows:,} rows, {arguments.runs} runs)")
    for label, milliseconds in results:
        shown = milliseconds if isinstance(milliseconds, str) else f"{milliseconds:.0f}"
        print(f"{label:<{width}}  {shown:>9}")


if __name__ == "__main__":
    main()
