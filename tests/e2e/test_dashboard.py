"""The dashboard in a real browser (issue 14 item 4): Debian's headless Chromium driven by Playwright
(tests/e2e/conftest.py), against the supervised stack with traffic through a scripted upstream. Nothing is
skipped: .ci/run installs chromium, so a missing browser fails these tests."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from dario.testing.dashboard import KEYS, DashboardStack, dashboard_stack
from tests.e2e.conftest import FOREIGN_HOST, open_page

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
PAGES = ("pools", "traffic", "requests", "sessions", "config")
API_KEY = "dario-dashboard-key-0123456789"
XSS_MODEL = "<script>window.__xss = 'model'</script>"
XSS_SESSION = "<img src=x onerror=\"window.__xss = 'session'\">"
LIVE_SECONDS = 2.0  # the promise: the pool view follows a 429 within 2 s, without a reload


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardStack]:
    with dashboard_stack(tmp_path_factory.mktemp("dashboard") / "home") as stack:
        stack.traffic()
        for _ in range(45):  # more than one page of the requests table
            stack.send("gpt-4o-mini", "codex", "session-two", "project-zeus")
        stack.wait_recorded()
        yield stack


def shown_number(text: str) -> float:
    return float(re.sub(r"[^0-9.\-]", "", text))


def test_each_page_loads_without_a_console_error(dashboard: DashboardStack, page: Page) -> None:
    for name in PAGES:
        open_page(page, dashboard, name)
        expect(page.locator("#failure")).to_be_hidden()
    assert page.problems == []  # type: ignore[attr-defined]  # CSP violations are console errors too


def test_the_pool_view_shows_what_accounts_says(dashboard: DashboardStack, page: Page) -> None:
    open_page(page, dashboard, "pools")
    accounts = dashboard.get_json("/accounts")
    assert {account["backend"] for account in accounts["accounts"]} == {"pool", "solo", "claude"}
    for account in accounts["accounts"]:
        card = page.locator(f"article[data-backend='{account['backend']}']")
        row = card.locator(f"tr[data-credential='{account['credential']}']")
        expect(row.locator("[data-field=chosen]")).to_have_text(f"{account['chosen']:,}")
        expect(row).to_have_attribute("data-status", account["status"])
        expect(row.locator("[data-field=in_flight]")).to_have_text(str(account["in_flight"]))
        headroom = shown_number(row.locator("[data-field=headroom]").inner_text())
        assert headroom == pytest.approx(account["headroom"] * 100, abs=0.051)
        requests_window = next(window for window in account["windows"] if window["name"] == "requests")
        shown = row.locator("[data-window=requests] [data-field=remaining]").inner_text()
        assert shown == f"{requests_window['remaining']:,.0f} / {requests_window['limit']:,.0f}"
    expect(page.locator("[data-field=queue_depth]")).to_have_text(str(accounts["queue_depth"]))
    forecast = dashboard.get_json("/analytics?window=3600")["forecast"]
    assert {entry["backend"] for entry in forecast} == {"pool", "solo", "claude"}
    for entry in forecast:
        card = page.locator(f"article[data-backend='{entry['backend']}']")
        row = card.locator(f"table.forecast tr[data-window='{entry['window']}']")
        expect(row).to_contain_text(f"{entry['remaining']:,.0f} / {entry['limit']:,.0f}")


def test_traffic_totals_equal_analytics(dashboard: DashboardStack, page: Page) -> None:
    open_page(page, dashboard, "traffic")
    window = dashboard.get_json("/analytics?window=3600")["window"]
    assert window["requests"] >= 60
    totals = page.locator("#traffic-totals")
    for field in ("requests", "errors", "input_tokens", "output_tokens"):
        expect(totals.locator(f"[data-field={field}]")).to_have_text(f"{window[field]:,}")
    expect(totals.locator("[data-field=cost_usd]")).to_have_text(f"${window['cost_usd']:.6f}")
    for field in ("latency_p50_ms", "latency_p95_ms", "ttfb_p50_ms"):
        assert shown_number(totals.locator(f"[data-field={field}]").inner_text()) == pytest.approx(window[field],
                                                                                                  abs=0.051)
    for chart in ("requests", "tokens", "cost", "errors", "latency"):
        expect(page.locator(f"#chart-{chart} canvas")).to_have_count(1)  # drawn by uPlot
    legend = page.locator("#chart-requests .u-legend")
    for backend in ("pool", "claude", "solo"):
        expect(legend).to_contain_text(backend)
    page.select_option("#choose-by", "model")
    expect(page.locator("#page[data-shown='3600/model']")).to_be_attached()
    expect(page.locator("#chart-requests .u-legend")).to_contain_text("gpt-4o-mini")
    page.select_option("#choose-window", "604800")
    expect(page.locator("#page[data-shown='604800/model']")).to_be_attached()
    week = dashboard.get_json("/analytics?window=604800")["window"]
    expect(totals.locator("[data-field=requests]")).to_have_text(f"{week['requests']:,}")
    page.goto(f"{dashboard.base_url}/ui#traffic?window=86400&by=backend")  # a linked choice
    expect(page.locator("#page[data-shown='86400/backend']")).to_be_attached()
    expect(page.locator("#choose-window")).to_have_value("86400")


def test_the_requests_table_is_the_latest_requests_filtered_and_paged(dashboard: DashboardStack, page: Page) -> None:
    open_page(page, dashboard, "requests")
    latest = dashboard.get_json("/analytics/requests?limit=50")
    rows = page.locator("#request-table tbody tr")
    expect(rows).to_have_count(50)
    assert rows.evaluate_all("rows => rows.map(row => row.dataset.requestId)") == [
        entry["request_id"] for entry in latest["requests"]]
    expect(page.locator("#page-position")).to_have_text(f"1–50 of {latest['total']:,}")
    page.click("#page-older")
    older = dashboard.get_json("/analytics/requests?limit=50&offset=50")
    expect(rows).to_have_count(len(older["requests"]))
    assert rows.first.get_attribute("data-request-id") == older["requests"][0]["request_id"]
    page.fill("#filter-backend", "solo")
    page.click("#request-filters button[type=submit]")
    solo = dashboard.get_json("/analytics/requests?backend=solo")
    expect(rows).to_have_count(solo["total"])
    assert set(rows.locator("[data-field=backend]").all_inner_texts()) == {"solo"}
    page.fill("#filter-backend", "")
    page.fill("#filter-model", "claude-sonnet-4-5")
    page.click("#request-filters button[type=submit]")
    expect(rows).to_have_count(dashboard.get_json("/analytics/requests?model=claude-sonnet-4-5")["total"])
    assert set(rows.locator("[data-field=backend]").all_inner_texts()) == {"claude"}


def test_sessions_and_projects_show_the_analytics_totals(dashboard: DashboardStack, page: Page) -> None:
    open_page(page, dashboard, "sessions")
    for key in ("session", "project"):
        report = dashboard.get_json(f"/analytics?window=86400&by={key}")
        section = page.locator(f"#totals-{key}")
        if f"by_{key}" not in report:  # a dario that does not attribute requests yet says so
            expect(section).to_contain_text("does not attribute")
            continue
        for entry in report[f"by_{key}"]:
            row = section.locator(f"tr[data-key='{entry[key]}']")
            expect(row.locator("[data-field=requests]")).to_have_text(f"{entry['requests']:,}")
            expect(row.locator("[data-field=cost_usd]")).to_have_text(f"${entry['cost_usd']:.6f}")
        header = section.locator("th[data-key=requests]")
        header.click()  # sorted by requests, most first
        shown = [shown_number(text) for text in section.locator("tbody [data-field=requests]").all_inner_texts()]
        assert shown == sorted(shown, reverse=True)


def test_the_config_page_shows_backends_routes_and_prices_but_no_key(dashboard: DashboardStack, page: Page) -> None:
    open_page(page, dashboard, "config")
    backends = page.locator("#config-backends")
    for backend in ("pool", "solo", "claude"):
        expect(backends).to_contain_text(backend)
    expect(backends).to_contain_text("alpha (ok), beta (ok)")
    expect(page.locator("#config-rules")).to_contain_text("claude:claude-haiku-4-5")
    expect(page.locator("#config-prices")).to_contain_text("gpt-4o*")
    content = page.content()
    assert not any(key in content for key in KEYS.values())


def test_client_strings_are_shown_as_text_and_run_nothing(dashboard: DashboardStack, page: Page) -> None:
    assert dashboard.send(XSS_MODEL, XSS_SESSION, XSS_SESSION, XSS_MODEL) == 200
    assert dashboard.send(XSS_SESSION, "codex", XSS_MODEL, XSS_SESSION) == 200
    dashboard.wait_recorded()
    page.on("dialog", lambda dialog: pytest.fail(f"a dialog opened: {dialog.message}"))
    open_page(page, dashboard, "requests")
    models = page.locator("#request-table [data-field=model]").all_inner_texts()
    assert XSS_MODEL in models and XSS_SESSION in models
    open_page(page, dashboard, "traffic")
    page.select_option("#choose-by", "model")
    expect(page.locator("#chart-requests .u-legend")).to_contain_text(XSS_MODEL)
    open_page(page, dashboard, "sessions")
    assert page.evaluate("window.__xss") is None
    assert page.locator("#page img, #page script").count() == 0
    assert page.problems == []  # type: ignore[attr-defined]


def test_the_pool_view_follows_a_429_within_two_seconds(dashboard: DashboardStack, page: Page) -> None:
    open_page(page, dashboard, "pools")
    solo = page.locator("article[data-backend=solo] tr[data-credential=solo]")
    expect(solo).to_have_attribute("data-status", "ok")
    dashboard.limits.block(KEYS["solo"], 60)
    assert dashboard.send("solo-model") == 429
    expect(solo).to_have_attribute("data-status", "cooldown", timeout=LIVE_SECONDS * 1000)
    expect(solo.locator("[data-field=last_status]")).to_have_text("429")
    assert page.problems == []  # type: ignore[attr-defined]


def test_a_foreign_host_without_a_key_gets_a_refusal_not_data(dashboard: DashboardStack, page: Page) -> None:
    port = dashboard.stack.port
    for path in ("/ui", "/ui/static/app.js", "/accounts"):
        answer = page.goto(f"http://{FOREIGN_HOST}:{port}{path}")
        assert answer is not None and answer.status == 403
    page.goto(f"http://{FOREIGN_HOST}:{port}/ui")
    expect(page.locator("#refused")).to_contain_text("does not serve the host")
    assert page.locator("#page").count() == 0


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardStack]:
    with dashboard_stack(tmp_path_factory.mktemp("keyed") / "home", api_key=API_KEY) as stack:
        stack.send("gpt-4o-mini", "claude-code", "session-one", "project-apollo")
        stack.wait_recorded()
        yield stack


def test_with_a_key_the_dashboard_asks_for_it_and_keeps_it_out_of_urls(keyed: DashboardStack, page: Page) -> None:
    for base in (keyed.base_url, f"http://{FOREIGN_HOST}:{keyed.stack.port}"):
        answer = page.goto(f"{base}/ui")
        assert answer is not None and answer.status == 200 and page.url == f"{base}/ui/login"
        expect(page.locator("form#login")).to_be_visible()
        assert page.locator("#page").count() == 0
    for path in ("/accounts", "/analytics", "/analytics/requests", "/config"):
        assert page.request.get(f"{keyed.base_url}{path}").status == 401
    page.goto(f"{keyed.base_url}/ui")
    page.fill("#key", "not-the-key")
    page.click("form#login button")
    expect(page.locator("#login-error")).to_contain_text("not the key")
    assert page.context.cookies() == []
    assert [problem for problem in page.problems if "401" not in problem] == []  # type: ignore[attr-defined]
    page.problems.clear()  # type: ignore[attr-defined]  # the refused key's 401, and only it
    page.fill("#key", API_KEY)
    page.click("form#login button")
    expect(page.locator("#page[data-page=pools][data-ready=true]")).to_be_attached(timeout=15_000)
    assert API_KEY not in page.url
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and API_KEY not in cookie["value"]
    expect(page.locator("article[data-backend=pool]")).to_be_visible()
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script reads it
    # The cookie authorises reads only: the API still wants the key.
    posted = page.request.post(f"{keyed.base_url}/v1/chat/completions",
                               data=json.dumps({"model": "gpt-4o-mini", "messages": []}),
                               headers={"content-type": "application/json"})
    assert posted.status == 401
    assert page.problems == []  # type: ignore[attr-defined]


def test_answers_under_ui_carry_a_strict_csp(keyed: DashboardStack) -> None:
    for path in ("/ui/login", "/ui/static/app.js", "/ui/vendor/uPlot.iife.min.js"):
        with urllib.request.urlopen(f"{keyed.base_url}{path}", timeout=10) as answer:
            policy = answer.headers["content-security-policy"]
            assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
            assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
            assert answer.headers["x-content-type-options"] == "nosniff"
    with urllib.request.urlopen(f"{keyed.base_url}/ui", timeout=10) as answer:  # redirected to the form
        assert answer.url.endswith("/ui/login") and b'id="login"' in answer.read()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(f"{keyed.base_url}/ui/login", data=b"key=wrong"), timeout=10)
    assert refused.value.code == 401 and b'id="login"' in refused.value.read()


def test_static_files_are_only_the_dashboards_own(dashboard: DashboardStack) -> None:
    for path in ("/ui/static/..%2Fpages.py", "/ui/static/index.html", "/ui/vendor/LICENSE.txt"):
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{dashboard.base_url}{path}", timeout=10)
        assert missing.value.code == 404

