"""`dario analytics`: the analytics report (pool_service.reports) as terminal tables, or as JSON."""

from __future__ import annotations

import argparse
import json
import re
import time

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dario.cli import output
from dario.cli.client import AdminClient
from dario.config import Paths
from dario.conversions import report_to_json
from dario.json_types import JsonObject
from dario.v1 import pool_pb2

DEFAULT_WINDOW = "1h"
_WINDOW = re.compile(r"(?P<amount>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>s|m|h|d|w)?", re.ASCII)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
# Rows of the totals table: (label, key, how to show the value).
_TOTALS = (
    ("requests", "requests", "count"),
    ("errors", "errors", "count"),
    ("input tokens", "input_tokens", "count"),
    ("output tokens", "output_tokens", "count"),
    ("cache read tokens", "cache_read_tokens", "count"),
    ("cache write tokens", "cache_write_tokens", "count"),
    ("reasoning tokens", "reasoning_tokens", "count"),
    ("cost (estimated)", "cost_usd", "usd"),
    ("requests without a price", "unpriced_requests", "count"),
    ("latency p50", "latency_p50_ms", "ms"),
    ("latency p95", "latency_p95_ms", "ms"),
    ("time to first byte p50", "ttfb_p50_ms", "ms"),
    ("failovers", "failovers", "count"),
    ("fallbacks", "fallbacks", "count"),
)
_GROUP_COLUMNS = (("requests", "requests", "count"), ("errors", "errors", "count"),
                  ("input", "input_tokens", "count"), ("output", "output_tokens", "count"),
                  ("cache read", "cache_read_tokens", "count"), ("cache write", "cache_write_tokens", "count"),
                  ("cost", "cost_usd", "usd"), ("p50", "latency_p50_ms", "ms"), ("p95", "latency_p95_ms", "ms"),
                  ("failovers", "failovers", "count"), ("fallbacks", "fallbacks", "count"))


class WindowError(argparse.ArgumentTypeError, ValueError):
    """A --window argparse can report as is, and other callers can catch as ValueError."""


def parse_window(text: str) -> float:
    """Seconds from "90s", "30m", "1h", "24h", "7d", "2w" or a bare number of seconds."""
    match = _WINDOW.fullmatch(text.strip().lower())
    if not match or float(match["amount"]) <= 0:
        raise WindowError(f"window {text!r} is not a duration; use 1h, 24h, 7d or a number of seconds")
    return float(match["amount"]) * _UNIT_SECONDS[match["unit"] or "s"]


def format_window(seconds: float) -> str:
    """The shortest of 7d / 24h / 30m / 45s that says seconds exactly."""
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0 and not (unit == "d" and seconds == size):
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


# Issue 14: what --by may name → (the report's list, its key columns, the table's title).
GROUPINGS = {
    "session": ("by_session", ("session",), "Per session"),
    "project": ("by_project", ("project",), "Per project"),
    "client": ("by_client", ("client",), "Per client"),
    "instance": ("by_instance", ("instance",), "Per instance"),  # issue 15: a cluster's report ([cluster] postgres)
    "model": ("by_model", ("model", "served_models"), "Per model"),
    "backend": ("by_backend", ("backend",), "Per backend"),
    "credential": ("by_credential", ("backend", "credential"), "Per credential"),
}
DEFAULT_GROUPINGS = ("backend", "credential", "model")
FILTERS = ("session", "project", "client", "instance")


def parse_groupings(text: str) -> list[str]:
    """--by session,project (or repeated): each a name of GROUPINGS."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    for name in names:
        if name not in GROUPINGS:
            raise argparse.ArgumentTypeError(f"cannot group by {name!r}; choose from {', '.join(GROUPINGS)}")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `dario analytics`."""
    parser.add_argument("--window", type=parse_window, default=parse_window(DEFAULT_WINDOW), metavar="DURATION",
                        help=f"recent window: 1h, 24h, 7d or seconds (default {DEFAULT_WINDOW})")
    parser.add_argument("--by", type=parse_groupings, action="extend", metavar="GROUPING",
                        help=f"group the window by {', '.join(GROUPINGS)} (comma separated or repeated; default "
                             f"{', '.join(DEFAULT_GROUPINGS)})")
    for name in FILTERS:
        parser.add_argument(f"--{name}", default="", metavar=name.upper(),
                            help=f"only the requests of this {name}")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (what GET /analytics returns)")


def groupings_of(arguments: argparse.Namespace) -> list[str]:
    """The groupings to show, each once (the default ones when --by is not given)."""
    return list(dict.fromkeys(getattr(arguments, "by", None) or DEFAULT_GROUPINGS))


def analytics(paths: Paths, arguments: argparse.Namespace) -> int:
    by = groupings_of(arguments)
    filters = {name: getattr(arguments, name) for name in FILTERS}
    with AdminClient(paths) as client:
        answer = client.call("pool_service", client.pool().Analytics,
                             pool_pb2.AnalyticsRequest(window_seconds=arguments.window, by=by, **filters))
    return run(report_to_json(answer, by), arguments, output.console)


def run(report: JsonObject, arguments: argparse.Namespace, console: Console) -> int:
    """Prints the report: JSON with --json, tables otherwise."""
    if getattr(arguments, "json", False):
        console.out(json.dumps(report, indent=2), highlight=False)
    else:
        render(report, console, groupings_of(arguments))
    return 0


def _value(value: float | None, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "usd":
        return f"${value:,.2f}" if value >= 100 else f"${value:,.4f}"
    if kind == "ms":
        return f"{value:,.0f} ms"
    return f"{value:,}"


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 1000 else f"{value:.1f}" if value >= 1 else f"{value:.3f}"


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days}d"] * bool(days) + [f"{hours}h"] * bool(hours) + [f"{minutes}m"] * bool(minutes)
    return " ".join(parts[:2]) if parts else f"{seconds}s"


def _moment(when: float | None, now: float) -> str:
    if when is None:
        return "—"
    clock = time.strftime("%H:%M" if when - now < 86_400 else "%Y-%m-%d %H:%M", time.localtime(when))
    return "now" if when <= now else f"{clock} (in {_duration(when - now)})"


def _totals_table(report: JsonObject, label: str) -> Table:
    table = Table("", f"last {label}", "all time", title="Totals")
    for name, key, kind in _TOTALS:
        table.add_row(name, _value(report["window"].get(key), kind), _value(report["all_time"].get(key), kind))
    return table


def _group_table(title: str, keys: tuple[str, ...], entries: list[JsonObject]) -> Table:
    table = Table(*keys, *(name for name, _, _ in _GROUP_COLUMNS), title=title)
    for entry in entries:
        # A group none of whose requests could be priced has an unknown cost, not a zero one.
        unknown = {"cost_usd"} if entry.get("unpriced_requests") == entry.get("requests") else set()
        table.add_row(*(Text(entry.get(key) or "(none)") for key in keys),
                      *(_value(None if key in unknown else entry.get(key), kind) for _, key, kind in _GROUP_COLUMNS))
    return table


def _forecast_table(entries: list[JsonObject], now: float) -> Table:
    table = Table("backend", "window", "accounts", "remaining / limit", "use per minute", "runs out", "resets",
                  title="Forecast at the current burn rate")
    for entry in entries:
        runs_out = _moment(entry["exhausts_at"], now) if entry["exhausts_at"] is not None else "not in use"
        style = "bold red" if entry["before_reset"] else ""
        table.add_row(Text(entry["backend"] or "(none)"), Text(entry["window"]), str(entry["credentials"]),
                      f"{entry['remaining']:,.0f} / {entry['limit']:,.0f}",
                      f"{_rate(entry['burn_per_second'] * 60)} {entry['unit'].replace('_', ' ')}",
                      Text(runs_out, style=style), _moment(entry["reset_at"], now))
    return table


def render(report: JsonObject, console: Console, groupings: list[str] | tuple[str, ...] = DEFAULT_GROUPINGS) -> None:
    """The report as tables: totals (window beside all time), one per grouping (default per backend, credential
    and model), burn, forecast."""
    label, now = format_window(report["window_seconds"]), report["generated_at"]
    if report.get("source") == "cluster":
        console.print("Every instance of the cluster (from PostgreSQL); --by instance splits them.", highlight=False)
    console.print(_totals_table(report, label))
    if report["window"]["requests"]:
        for name in groupings:
            listed, keys, title = GROUPINGS[name]
            console.print(_group_table(f"{title}, last {label}", keys, report.get(listed, [])))
    else:
        console.print(f"No requests in the last {label}; try a longer --window.")
    burn = report["burn_rate"]
    console.print(f"Burn rate over the last {label}: {_rate(burn['tokens_per_minute'])} tokens/min, "
                  f"{_value(burn['cost_per_hour'], 'usd')}/hour, {_rate(burn['requests_per_minute'])} requests/min",
                  highlight=False)
    if report["forecast"]:
        console.print(_forecast_table(report["forecast"], now))
    else:
        console.print("No rate-limit windows reported by any backend yet: nothing to forecast.")
