"""The dashboard's browser tests' shared parts (tests/e2e/test_dashboard*.py): Debian's headless Chromium driven by
Playwright (never a downloaded browser: .ci/run installs chromium, so a missing one fails these tests), a fresh
page per test that collects console errors and warnings, and opening one dashboard page until it has drawn."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright

from dario.testing.dashboard import DashboardStack

CHROMIUM = "/usr/bin/chromium"
FOREIGN_HOST = "dashboard.example"  # resolved to 127.0.0.1 by the browser itself (--host-resolver-rules)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM,
                                          args=[f"--host-resolver-rules=MAP {FOREIGN_HOST} 127.0.0.1"])
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a context of its own; page.problems lists its console errors and warnings and page errors."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    problems: list[str] = []
    opened.on("console", lambda message: _console(problems, message))
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    opened.problems = problems  # type: ignore[attr-defined]
    yield opened
    context.close()


def _console(problems: list[str], message: ConsoleMessage) -> None:
    if message.type in ("error", "warning"):
        problems.append(f"console {message.type}: {message.text} at {message.location}")


def open_page(page: Page, stack: DashboardStack, name: str) -> None:
    page.goto(f"{stack.base_url}/ui#{name}")
    expect(page.locator(f"#page[data-page={name}][data-ready=true]")).to_be_attached(timeout=15_000)
