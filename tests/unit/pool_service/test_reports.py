"""The analytics report on a seeded database (totals, groups, percentiles, burn rate, forecast) and its
rendering by `dario analytics`."""

from __future__ import annotations

import argparse
import json
import pathlib

import pytest
from rich.console import Console

from dario.cli.analytics import add_arguments, format_window, parse_window, render, run
from dario.conversions import report_to_json
from dario.v1 import pool_pb2
from pool_service.analytics import AnalyticsStore, open_database
from pool_service.conversions import report_to_proto
from pool_service.reports import percentile, report, window_unit

NOW = 1_800_000_000.0
HOUR = 3600.0
SONNET = "claude-sonnet-4-5-20250929"


def row(request_id: str, age: float, backend: str, credential: str, model: str, served_model: str = "",
        status: int = 200, latency_ms: float = 100.0, ttfb_ms: float = 0.0, input_tokens: int | None = None,
        output_tokens: int | None = None, cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None, failover: str = "", fallback_from: str = "") -> dict:
    return {"request_id": request_id, "started_at": NOW - age, "api_format": "openai", "backend": backend,
            "credential": credential, "model": model, "served_model": served_model, "status": status,
            "error_type": "" if status < 400 else "upstream_error", "latency_ms": latency_ms, "ttfb_ms": ttfb_ms,
            "input_tokens": input_tokens, "output_tokens": output_tokens, "cache_read_tokens": cache_read_tokens,
            "reasoning_tokens": None, "stream": 1, "attempts": 1 + bool(failover), "failover": failover,
            "fallback_from": fallback_from, "queued_ms": 0.0, "cache_write_tokens": cache_write_tokens}


SEEDED = [
    # In the last hour.
    row("r1", 100, "anthropic", "a1", "claude-sonnet-4-5", SONNET, latency_ms=100, ttfb_ms=10, input_tokens=1000,
        output_tokens=500, cache_read_tokens=2000, cache_write_tokens=400),
    row("r2", 200, "anthropic", "a2", "sonnet", SONNET, latency_ms=200, ttfb_ms=20, input_tokens=3000,
        output_tokens=1000, cache_read_tokens=0, cache_write_tokens=0, failover="a1"),
    row("r3", 300, "anthropic", "a1", "claude-haiku-4-5", status=429, latency_ms=300),
    row("r4", 400, "openai", "o1", "gpt-4o", "gpt-4o-2024-08-06", latency_ms=400, ttfb_ms=40, input_tokens=2000,
        output_tokens=100, cache_read_tokens=1000, fallback_from="anthropic"),
    row("r5", HOUR - 1, "openai", "o1", "llama-local", latency_ms=500, ttfb_ms=50, input_tokens=10,
        output_tokens=10),
    # Before the hour.
    row("r6", HOUR + 1, "openai", "o1", "gpt-4o", status=500, input_tokens=100, output_tokens=100),
    row("r7", 10 * 86_400, "anthropic", "a1", "claude-sonnet-4-5", input_tokens=100, output_tokens=100),
]
COST = {"r1": (1000 * 3 + 500 * 15 + 2000 * 0.30 + 400 * 3.75) / 1e6, "r2": (3000 * 3 + 1000 * 15) / 1e6,
        "r4": (1000 * 2.5 + 100 * 10 + 1000 * 1.25) / 1e6, "r6": (100 * 2.5 + 100 * 10) / 1e6,
        "r7": (100 * 3 + 100 * 15) / 1e6}
ACCOUNTS = [
    {"backend": "anthropic", "credential": "a1", "windows": [
        {"name": "input-tokens", "limit": 100_000, "remaining": 40_000, "reset_at": NOW + 60},
        {"name": "requests", "limit": 50, "remaining": 10, "reset_at": NOW + 100_000},
        {"name": "something-else", "limit": 5, "remaining": 1, "reset_at": NOW + 5}]},
    {"backend": "anthropic", "credential": "a2", "windows": [
        {"name": "input-tokens", "limit": 100_000, "remaining": 60_000, "reset_at": NOW + 120},
        {"name": "requests", "limit": 50, "remaining": 0, "reset_at": NOW - 5}]},  # reset passed: full again
    {"backend": "openai", "credential": "o1", "windows": [
        {"name": "tokens", "limit": 30_000, "remaining": 0, "reset_at": NOW + 10},
        {"name": "requests", "limit": 500, "remaining": 499}]},  # no reset known (as MessageToDict omits zeros)
    {"backend": "groq", "credential": "g1", "windows": [
        {"name": "requests", "limit": 100, "remaining": 100, "reset_at": NOW + 30}]},
    {"backend": "groq", "credential": "g2", "windows": []},
]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("reports") / "analytics.db"
    store = AnalyticsStore(path)
    done: list[bool] = []
    store.submit(SEEDED, done.append)
    store.close()
    assert done == [True]
    return path


@pytest.fixture(scope="module")
def seeded(database: pathlib.Path) -> dict:
    return report(database, NOW, HOUR, ACCOUNTS)


SUMMED = ("requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
          "reasoning_tokens", "unpriced_requests", "failovers", "fallbacks")


def test_window_totals_count_only_the_window(seeded: dict) -> None:
    window = seeded["window"]
    assert {name: window[name] for name in SUMMED} == {
        "requests": 5, "errors": 1, "input_tokens": 6010, "output_tokens": 1610, "cache_read_tokens": 3000,
        "cache_write_tokens": 400, "reasoning_tokens": 0, "unpriced_requests": 2, "failovers": 1, "fallbacks": 1}
    assert window["cost_usd"] == pytest.approx(COST["r1"] + COST["r2"] + COST["r4"])
    # Nearest rank: latencies 100…500 → p50 300, p95 500; first bytes 10, 20, 40, 50 (r3 sent none) → p50 20.
    assert (window["latency_p50_ms"], window["latency_p95_ms"], window["ttfb_p50_ms"]) == (300, 500, 20)


def test_all_time_totals_count_every_row_without_percentiles(seeded: dict) -> None:
    all_time = seeded["all_time"]
    assert (all_time["requests"], all_time["errors"], all_time["input_tokens"], all_time["output_tokens"]) \
        == (7, 2, 6210, 1810)
    assert all_time["cost_usd"] == pytest.approx(sum(COST.values()))
    assert all_time["latency_p50_ms"] is None and all_time["ttfb_p50_ms"] is None


@pytest.mark.parametrize("group", ["by_backend", "by_credential", "by_model"])
def test_each_grouping_sums_to_the_window_totals(seeded: dict, group: str) -> None:
    for name in SUMMED:
        assert sum(entry[name] for entry in seeded[group]) == seeded["window"][name], name
    assert sum(entry["cost_usd"] for entry in seeded[group]) == pytest.approx(seeded["window"]["cost_usd"])


def test_groups_are_keyed_and_ordered_by_requests(seeded: dict) -> None:
    assert [(entry["backend"], entry["requests"]) for entry in seeded["by_backend"]] == [("anthropic", 3),
                                                                                          ("openai", 2)]
    assert [(entry["backend"], entry["credential"], entry["requests"]) for entry in seeded["by_credential"]] == [
        ("anthropic", "a1", 2), ("openai", "o1", 2), ("anthropic", "a2", 1)]
    # Grouped under the model the client requested (streamed or not), the served ones alongside (issue 16).
    assert [(entry["model"], entry["served_models"], entry["requests"]) for entry in seeded["by_model"]] == [
        ("claude-haiku-4-5", "", 1), ("claude-sonnet-4-5", SONNET, 1), ("gpt-4o", "gpt-4o-2024-08-06", 1),
        ("llama-local", "", 1), ("sonnet", SONNET, 1)]
    anthropic = seeded["by_backend"][0]
    assert (anthropic["errors"], anthropic["failovers"], anthropic["latency_p50_ms"], anthropic["ttfb_p50_ms"]) \
        == (1, 1, 200, 10)


def test_burn_rate_is_the_window_averaged_per_minute(seeded: dict) -> None:
    burn = seeded["burn_rate"]
    # Rate-limited tokens: input + cache writes + output.
    assert burn["tokens_per_minute"] == pytest.approx((6010 + 400 + 1610) / 60, abs=1e-3)
    assert burn["input_tokens_per_minute"] == pytest.approx((6010 + 400) / 60, abs=1e-3)
    assert burn["output_tokens_per_minute"] == pytest.approx(1610 / 60, abs=1e-3)
    assert burn["requests_per_minute"] == pytest.approx(5 / 60, abs=1e-3)
    assert burn["cost_per_hour"] == pytest.approx(COST["r1"] + COST["r2"] + COST["r4"], abs=1e-6)


def test_forecast_divides_each_pool_window_by_its_backend_burn(seeded: dict) -> None:
    forecast = {(entry["backend"], entry["window"]): entry for entry in seeded["forecast"]}
    assert set(forecast) == {("anthropic", "input-tokens"), ("anthropic", "requests"), ("openai", "tokens"),
                             ("openai", "requests"), ("groq", "requests")}
    tokens = forecast["anthropic", "input-tokens"]
    burn = (1000 + 400 + 3000) / HOUR  # anthropic's input and cache writes in the hour
    assert (tokens["unit"], tokens["credentials"], tokens["limit"], tokens["remaining"]) == \
        ("input_tokens", 2, 200_000, 100_000)
    assert tokens["burn_per_second"] == pytest.approx(burn)
    assert tokens["exhausts_at"] == pytest.approx(NOW + 100_000 / burn)
    assert tokens["reset_at"] == NOW + 60 and tokens["before_reset"] is False

    requests = forecast["anthropic", "requests"]  # a2's window already reset, so it counts as full
    assert (requests["remaining"], requests["limit"], requests["reset_at"]) == (60, 100, NOW + 100_000)
    assert requests["seconds_left"] == pytest.approx(60 / (3 / HOUR))
    assert requests["exhausts_at"] == pytest.approx(NOW + 72_000) and requests["before_reset"] is True


def test_forecast_of_an_empty_window_an_idle_pool_and_an_unknown_reset(seeded: dict) -> None:
    forecast = {(entry["backend"], entry["window"]): entry for entry in seeded["forecast"]}
    empty = forecast["openai", "tokens"]
    assert (empty["seconds_left"], empty["exhausts_at"], empty["before_reset"]) == (0.0, NOW, True)
    idle = forecast["groq", "requests"]
    assert (idle["burn_per_second"], idle["exhausts_at"], idle["before_reset"]) == (0, None, False)
    unknown_reset = forecast["openai", "requests"]
    assert unknown_reset["exhausts_at"] == pytest.approx(NOW + 499 / (2 / HOUR))
    assert unknown_reset["reset_at"] is None and unknown_reset["before_reset"] is True


def test_the_report_is_json_and_reads_the_same_from_a_connection(database: pathlib.Path, seeded: dict) -> None:
    assert json.loads(json.dumps(seeded)) == seeded
    connection = open_database(database)
    try:
        assert report(connection, NOW, HOUR, ACCOUNTS) == seeded
        assert report(connection.conn, NOW, HOUR, ACCOUNTS) == seeded
    finally:
        connection.close()
    assert seeded["generated_at"] == NOW and seeded["window_seconds"] == HOUR


def test_the_report_crosses_the_contract_as_the_same_json(seeded: dict, tmp_path: pathlib.Path) -> None:
    """pool_service sends typed messages; GET /analytics and `dario analytics --json` print the report's JSON from
    them: the same text, nulls, integers and key order included."""
    empty = report(tmp_path / "absent.db", NOW, HOUR, ACCOUNTS[3:4])
    for built in (seeded, empty):
        sent = pool_pb2.AnalyticsResponse.FromString(report_to_proto(built).SerializeToString())
        assert json.dumps(report_to_json(sent)) == json.dumps(built)


def test_a_longer_window_takes_in_older_rows(database: pathlib.Path) -> None:
    day = report(database, NOW, 86_400)
    assert day["window"]["requests"] == 6 and day["forecast"] == []
    assert report(database, NOW, 30 * 86_400)["window"]["requests"] == 7


def test_a_missing_database_gives_an_empty_report(tmp_path: pathlib.Path) -> None:
    empty = report(tmp_path / "absent.db", NOW, HOUR, ACCOUNTS[3:4])
    assert empty["window"]["requests"] == 0 and empty["all_time"]["cost_usd"] == 0.0
    assert empty["by_backend"] == [] and empty["window"]["latency_p50_ms"] is None
    assert empty["burn_rate"]["tokens_per_minute"] == 0 and empty["forecast"][0]["exhausts_at"] is None
    assert not (tmp_path / "absent.db").exists()


def test_window_must_be_positive(database: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="window_seconds"):
        report(database, NOW, 0)


@pytest.mark.parametrize(("values", "fraction", "expected"), [
    ([], 0.5, None), ([7.0], 0.95, 7.0), ([1.0, 2.0], 0.5, 1.0), (list(range(1, 101)), 0.95, 95)])
def test_percentile_is_nearest_rank(values: list, fraction: float, expected: float | None) -> None:
    assert percentile(values, fraction) == expected


@pytest.mark.parametrize(("name", "unit"), [
    ("requests", "requests"), ("tokens", "tokens"), ("input-tokens", "input_tokens"),
    ("output-tokens", "output_tokens"), ("tokens_usage_based", "tokens"), ("requests-day", "requests"),
    ("images", None)])
def test_window_names_map_to_what_they_count(name: str, unit: str | None) -> None:
    assert window_unit(name) == unit


@pytest.mark.parametrize(("text", "seconds"), [
    ("1h", 3600), ("24h", 86_400), ("7d", 604_800), ("30m", 1800), ("90s", 90), ("3600", 3600), (" 1.5H ", 5400),
    ("2w", 1_209_600)])
def test_windows_parse_to_seconds(text: str, seconds: float) -> None:
    assert parse_window(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0h", "-1h", "h", "1y", "1h30m", "abc"])
def test_a_bad_window_is_a_value_error_with_a_hint(text: str) -> None:
    with pytest.raises(ValueError, match="use 1h, 24h, 7d"):
        parse_window(text)


@pytest.mark.parametrize(("seconds", "text"), [(3600, "1h"), (86_400, "24h"), (604_800, "7d"), (1800, "30m"),
                                               (90, "90s"), (5400, "90m")])
def test_windows_format_back_to_short_durations(seconds: float, text: str) -> None:
    assert format_window(seconds) == text


def test_the_analytics_command_line_options(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="dario analytics")
    add_arguments(parser)
    none = {"by": None, "session": "", "project": "", "client": "", "instance": ""}
    assert vars(parser.parse_args([])) == {"window": 3600.0, "json": False, **none}
    assert vars(parser.parse_args(["--window", "7d", "--json"])) == {"window": 604_800.0, "json": True, **none}
    grouped = parser.parse_args(["--by", "session,project", "--by", "client", "--session", "s1"])
    assert (grouped.by, grouped.session) == (["session", "project", "client"], "s1")
    clustered = parser.parse_args(["--by", "instance", "--instance", "host-a"])  # issue 15: a cluster's report
    assert (clustered.by, clustered.instance) == (["instance"], "host-a")
    with pytest.raises(SystemExit):
        parser.parse_args(["--window", "soon"])
    assert "window 'soon' is not a duration; use 1h, 24h, 7d" in capsys.readouterr().err


def recorded() -> Console:
    return Console(record=True, width=200, color_system=None)


def test_render_shows_totals_groups_burn_and_forecast(seeded: dict) -> None:
    console = recorded()
    render(seeded, console)
    text = console.export_text()
    for expected in ("Totals", "last 1h", "all time", "6,010", "6,210", "1,610", "1,810", "300 ms", "500 ms",
                     "Per backend", "Per credential", "Per model", "anthropic", "a2", SONNET, "llama-local",
                     "133.7 tokens/min", "0.083 requests/min", "Forecast", "input-tokens", "60 / 100",
                     "100,000 / 200,000", "not in use", "now"):
        assert expected in text, expected
    assert f"${seeded['window']['cost_usd']:,.4f}" in text


def test_render_says_a_cluster_report_covers_every_instance_and_shows_them(seeded: dict) -> None:
    clustered = {**seeded, "source": "cluster",
                 "by_instance": [{**seeded["window"], "instance": "host-a"}]}
    console = recorded()
    render(clustered, console, ["instance"])
    text = console.export_text()
    assert "Every instance of the cluster" in text and "Per instance" in text and "host-a" in text
    console = recorded()
    render(seeded, console)
    assert "Every instance" not in console.export_text(), "a host's own report says nothing of a cluster"


def test_render_says_when_the_window_is_empty(tmp_path: pathlib.Path) -> None:
    console = recorded()
    render(report(tmp_path / "absent.db", NOW, 86_400), console)
    text = console.export_text()
    assert "No requests in the last 24h" in text and "nothing to forecast" in text


def test_run_prints_json_or_tables(seeded: dict) -> None:
    console = recorded()
    assert run(seeded, argparse.Namespace(window=HOUR, json=True), console) == 0
    assert json.loads(console.export_text()) == seeded
    console = recorded()
    assert run(seeded, argparse.Namespace(window=HOUR, json=False), console) == 0
    assert "Per credential" in console.export_text()
