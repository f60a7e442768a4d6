"""Screenshots of the dashboard's pages for the README (issue 14): `python scripts/screenshots.py [--out DIR]`.

Starts the supervised stack of dario.testing.dashboard on a temporary DARIO_HOME whose analytics already hold a
day of recorded history (so the charts have a shape), sends live traffic through the scripted upstream, puts one
credential in cooldown with a 429, and photographs each page with Debian's headless Chromium (Playwright, no
browser download). Writes docs/screenshots/<page>.png.
"""

from __future__ import annotations

import argparse
import pathlib
import random
import tempfile
import time

from playwright.sync_api import expect, sync_playwright

from dario.testing.dashboard import KEYS, DashboardStack, dashboard_stack
from pool_service.analytics import COLUMNS, AnalyticsStore

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = ("pools", "traffic", "requests", "sessions", "config")
HISTORY_ROWS = 4000
MODELS = (("pool", "alpha", "gpt-4o-mini"), ("pool", "beta", "gpt-4o"), ("claude", "main", "claude-sonnet-4-5"),
          ("solo", "solo", "solo-model"))
SESSIONS = (("claude-code", "session-one", "project-apollo"), ("codex", "session-two", "project-zeus"),
            ("aider", "session-three", "project-apollo"))


def history(now: float, seed: int = 14) -> list[dict[str, object]]:
    """A day of plausible requests: busier in the afternoon, a few 429s and 5xx, attribution where recorded."""
    generator = random.Random(seed)
    rows: list[dict[str, object]] = []
    for index in range(HISTORY_ROWS):
        age = 86_400 * generator.random() ** 1.3
        backend, credential, model = generator.choice(MODELS)
        client, session, project = generator.choice(SESSIONS)
        status = generator.choices((200, 429, 500), weights=(96, 3, 1))[0]
        latency = generator.lognormvariate(6.2, 0.5)
        row = {"request_id": f"history-{index:05d}", "started_at": now - age, "api_format": "openai",
               "backend": backend, "credential": credential, "model": model, "served_model": "", "status": status,
               "error_type": "" if status == 200 else "upstream_error", "latency_ms": latency,
               "ttfb_ms": latency * generator.uniform(0.2, 0.5) if status == 200 else 0.0,
               "input_tokens": generator.randint(200, 6000) if status == 200 else None,
               "output_tokens": generator.randint(20, 900) if status == 200 else None, "cache_read_tokens": None,
               "reasoning_tokens": None, "stream": 1, "attempts": 1, "failover": "", "fallback_from": "",
               "queued_ms": 0.0, "cache_write_tokens": None,
               "client": client, "session": session, "project": project, "tags": ""}
        rows.append({name: value for name, value in row.items() if name in COLUMNS})
    return rows


def seed(home: pathlib.Path) -> None:
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    store = AnalyticsStore(home / "analytics.db")
    done: list[bool] = []
    store.submit(history(time.time()), done.append)
    store.close()
    if done != [True]:
        raise RuntimeError("could not seed the analytics history")


def photograph(stack: DashboardStack, out: pathlib.Path) -> list[pathlib.Path]:
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        for name in PAGES:
            page.goto(f"{stack.base_url}/ui#{name}")
            expect(page.locator(f"#page[data-page={name}][data-ready=true]")).to_be_attached(timeout=30_000)
            if name == "traffic":
                page.select_option("#choose-window", "86400")
                expect(page.locator("#page[data-shown='86400/backend']")).to_be_attached(timeout=30_000)
            if name == "pools":
                expect(page.locator("tr[data-credential=solo]")).to_have_attribute("data-status", "cooldown")
            path = out / f"{name}.png"
            page.screenshot(path=str(path), full_page=name in ("pools", "traffic"))
            written.append(path)
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "docs" / "screenshots")
    arguments = parser.parse_args()
    arguments.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        home = pathlib.Path(folder) / "home"
        seed(home)
        with dashboard_stack(home) as stack:
            stack.traffic()
            stack.limits.block(KEYS["solo"], 120)
            stack.send("solo-model", "codex", "session-two", "project-zeus")
            stack.wait_recorded(HISTORY_ROWS + len(stack.sent))
            for path in photograph(stack, arguments.out):
                print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
