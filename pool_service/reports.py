"""The analytics report behind GET /analytics and `dario analytics`: totals, groups, burn rate, forecast.

Sums, counts and latency percentiles are SQL aggregates (the window is found through the started_at index, a
session, project or client through its own); percentiles are over the window's rows only, so all-time totals
carry none.
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlite_utils

from dario.json_types import JsonObject
from pool_service.migrations import TOTALS_TABLE
from pool_service.report_groups import NO_PERCENTILES, Scope, Summary, rolled_up, summaries
from pool_service.selection import Account

TABLE = "requests"
# What a request is grouped under: the model the client asked for, streamed or not (the served ones are listed
# beside it, and pricing reads the served model: pool_service.analytics.priced).
MODEL = "coalesce(model, '')"
SERVED = "group_concat(distinct nullif(served_model, ''))"
GROUPS = {"by_backend": ("backend",), "by_credential": ("backend", "credential"), "by_model": ("model",)}
# Issue 14: groupings a caller asks for (report's by), and the columns a report can be narrowed to (filters).
OPTIONAL_GROUPS = {"session": ("session",), "project": ("project",), "client": ("client",)}
FILTERS = ("session", "project", "client")
# Grouping by expressions (not bare columns) keeps the planner on the started_at index: walking a group column's
# index to save a sort would read the whole table instead of the window.
_EXPRESSIONS = {"backend": "coalesce(backend, '')", "credential": "coalesce(credential, '')", "model": MODEL,
                "session": "coalesce(session, '')", "project": "coalesce(project, '')",
                "client": "coalesce(client, '')"}
_AGGREGATES = (
    ("requests", "count(*)"),
    ("errors", "coalesce(sum(status >= 400), 0)"),
    ("input_tokens", "coalesce(sum(input_tokens), 0)"),
    ("output_tokens", "coalesce(sum(output_tokens), 0)"),
    ("cache_read_tokens", "coalesce(sum(cache_read_tokens), 0)"),
    ("cache_write_tokens", "coalesce(sum(cache_write_tokens), 0)"),
    ("reasoning_tokens", "coalesce(sum(reasoning_tokens), 0)"),
    ("cost_usd", "total(cost_usd)"),
    ("unpriced_requests", "count(*) - count(cost_usd)"),
    ("failovers", "coalesce(sum(coalesce(failover, '') != ''), 0)"),
    ("fallbacks", "coalesce(sum(coalesce(fallback_from, '') != ''), 0)"),
    ("estimated_requests", "coalesce(sum(usage_estimated), 0)"),
)
_SELECT = ", ".join(expression for _, expression in _AGGREGATES)
_SUMMED = tuple(name for name, _ in _AGGREGATES)
# The running totals' columns in _AGGREGATES' order (pool_service.migrations keeps them).
_RUNNING = ", ".join("requests - priced_requests" if name == "unpriced_requests" else name for name in _SUMMED)
_KEYS = ("backend", "credential", "model")
# Rate-limit window names (architecture.md, Contracts headers) → what they count; suffixed names ("tokens_usage_based",
# "requests-day") count the same thing as their prefix.
_UNITS = (
    ("requests", "requests"),
    ("input-tokens", "input_tokens"),
    ("output-tokens", "output_tokens"),
    ("tokens", "tokens"),
)

Database = str | os.PathLike[str] | sqlite3.Connection | sqlite_utils.Database


def report(database: Database, now: float, window_seconds: float, accounts: list[JsonObject] | None = None,
           by: Iterable[str] = (), filters: Mapping[str, str] | None = None) -> JsonObject:
    """The JSON-able report over the last window_seconds before now.

    {"generated_at", "window_seconds", "window": totals, "all_time": totals (no percentiles),
    "by_backend" / "by_credential" / "by_model": [{group keys…, totals…}] over the window, "burn_rate",
    "forecast"}, and "by_session" / "by_project" / "by_client" for each of those named in by. filters ({"session":
    id, …}) narrows every part to the matching requests. accounts is the pools' state for the forecast:
    [{"backend", "credential", "windows": [{"name", "limit", "remaining", "reset_at"}]}]; None gives an empty
    forecast. Every sum, count and percentile is computed by SQLite: only a row per group reaches Python.
    """
    if not window_seconds > 0:
        raise ValueError(f"window_seconds must be positive, got {window_seconds!r}")
    extra = check_groupings(by)
    everything = Scope()
    for name, value in sorted((filters or {}).items()):
        if name not in FILTERS:
            raise ValueError(f"cannot filter by {name!r}; use one of {', '.join(FILTERS)}")
        if value:
            everything = everything.narrowed(f"{name} = ?", value)  # the bare column: its index finds the rows
    window_scope = everything.narrowed("started_at >= ?", now - window_seconds)
    empty = {**_totals_row(None), **NO_PERCENTILES}
    with _connection(database) as connection:
        if connection is None:
            all_time, window = _totals_row(None), empty
            groups: dict[str, list[dict[str, Any]]] = {name: [] for name in
                                                       [*GROUPS, *(f"by_{key}" for key in extra)]}
        else:
            all_time = _all_time(connection, everything)
            # One pass per (backend, credential, model) serves the window and the three default groupings.
            combinations = summaries(connection, {key: _EXPRESSIONS[key] for key in _KEYS}, _SELECT, window_scope,
                                     _totals_row, listed=SERVED)
            window = (rolled_up(combinations, _KEYS, (), _SUMMED) or [empty])[0]
            groups = {name: rolled_up(combinations, _KEYS, keys, _SUMMED) for name, keys in GROUPS.items()}
            groups["by_model"] = [{"model": entry["model"], "served_models": _served(entry["model"], combinations),
                                   **entry} for entry in groups["by_model"]]
            if extra:  # one more pass for all of them: a session has one client and project or a few
                asked = tuple(extra)
                found = summaries(connection, {key: _EXPRESSIONS[key] for key in asked}, _SELECT, window_scope,
                                  _totals_row)
                for key in asked:
                    groups[f"by_{key}"] = rolled_up(found, asked, (key,), _SUMMED)
    all_time.update(NO_PERCENTILES)
    return {
        "generated_at": now,
        "window_seconds": window_seconds,
        "window": window,
        "all_time": all_time,
        **groups,
        "burn_rate": burn_rate(window, window_seconds),
        "forecast": forecast(accounts or [], groups["by_backend"], window_seconds, now),
    }


def check_groupings(by: Iterable[str]) -> list[str]:
    """The extra groupings asked for, each once, in the order given; ValueError naming the choices otherwise.
    The default ones (backend, credential, model) are always in the report and may be named too."""
    chosen: list[str] = []
    for name in by:
        name = name.strip().lower()
        if not name or f"by_{name}" in GROUPS:
            continue
        if name not in OPTIONAL_GROUPS:
            choices = ", ".join([*OPTIONAL_GROUPS, *(group.removeprefix("by_") for group in GROUPS)])
            raise ValueError(f"cannot group by {name!r}; choose from {choices}")
        if name not in chosen:
            chosen.append(name)
    return chosen


def pool_windows(accounts: Iterable[Account]) -> list[JsonObject]:
    """The pools' state (Pool.snapshot) as report's forecast reads it."""
    return [
        {"backend": account.backend, "credential": account.credential,
         "windows": [{"name": window.name, "limit": window.limit, "remaining": window.remaining,
                      "reset_at": window.reset_at} for window in account.windows]}
        for account in accounts
    ]


@contextmanager
def _connection(database: Database) -> Iterator[sqlite3.Connection | None]:
    """A connection to read from (None when there is no database or table yet); closes only what it opened."""
    if isinstance(database, sqlite_utils.Database):
        database = database.conn
    if isinstance(database, sqlite3.Connection):
        yield database if _has_table(database) else None
        return
    if not os.path.exists(database):
        yield None
        return
    connection = sqlite3.connect(database)
    try:
        yield connection if _has_table(connection) else None
    finally:
        connection.close()


def _served(model: str, combinations: Mapping[tuple[Any, ...], Summary]) -> str:
    """The models served under a requested one, comma-separated (empty when no upstream named one)."""
    return ",".join(sorted({name for combination, summary in combinations.items() if combination[2] == model
                            for name in summary.listed}))


def _all_time(connection: sqlite3.Connection, everything: Scope) -> dict[str, Any]:
    """Every row's totals: from the running totals migrations keep (one row) unless filtered, else summed."""
    if not everything.conditions and _has_table(connection, TOTALS_TABLE):
        return _totals_row(connection.execute(f"select {_RUNNING} from {TOTALS_TABLE} where id = 1").fetchone())
    return _totals_row(connection.execute(f"select {_SELECT} from {TABLE}{everything.where()}",
                                          everything.parameters).fetchone())


def _has_table(connection: sqlite3.Connection, table: str = TABLE) -> bool:
    query = "select 1 from sqlite_master where type = 'table' and name = ?"
    return connection.execute(query, [table]).fetchone() is not None


def _totals_row(values: tuple[Any, ...] | None) -> JsonObject:
    totals = {name: (values[index] if values else 0) for index, (name, _) in enumerate(_AGGREGATES)}
    totals["cost_usd"] = round(float(totals["cost_usd"]), 6)
    return totals


def percentile(ordered: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None when there are none)."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def limited_tokens(totals: JsonObject, unit: str = "tokens") -> float:
    """The tokens that count against a rate-limit window of this unit: input (with cache writes, which
    Anthropic counts as input; cache reads are either inside input already or not limited) and output."""
    counted_input = totals["input_tokens"] + totals["cache_write_tokens"]
    return float({
        "input_tokens": counted_input,
        "output_tokens": totals["output_tokens"],
        "tokens": counted_input + totals["output_tokens"],
        "requests": totals["requests"],
    }[unit])


def burn_rate(window: JsonObject, window_seconds: float) -> JsonObject:
    """Average use per minute (cost per hour) over the window; tokens as limited_tokens counts them."""
    minutes = window_seconds / 60.0
    return {
        "tokens_per_minute": round(limited_tokens(window) / minutes, 3),
        "input_tokens_per_minute": round(limited_tokens(window, "input_tokens") / minutes, 3),
        "output_tokens_per_minute": round(window["output_tokens"] / minutes, 3),
        "requests_per_minute": round(window["requests"] / minutes, 3),
        "cost_per_hour": round(window["cost_usd"] / (window_seconds / 3600.0), 6),
    }


def window_unit(name: str) -> str | None:
    """What a rate-limit window counts ("requests", "tokens", "input_tokens", "output_tokens"), or None."""
    name = name.lower().replace("_", "-")
    return next((unit for prefix, unit in _UNITS if name.startswith(prefix)), None)


def forecast(accounts: list[JsonObject], by_backend: list[JsonObject], window_seconds: float,
             now: float) -> list[JsonObject]:
    """For each backend and rate-limit window: when its credentials' summed remaining runs out at the backend's
    burn rate over the report window.

    A window whose reset time has passed counts as full again. exhausts_at is null when nothing is being
    used, now when nothing remains. before_reset: it runs out before the earliest reset of that window
    among the backend's credentials (true as well when no reset time is known).
    """
    pools: dict[tuple[str, str], JsonObject] = {}
    for account in accounts:
        for window in account.get("windows") or []:
            name = window.get("name", "")
            if window_unit(name) is None:
                continue
            limit, remaining, reset_at = (float(window.get(field) or 0) for field in ("limit", "remaining", "reset_at"))
            pool = pools.setdefault(
                (account.get("backend", ""), name), {"credentials": 0, "limit": 0.0, "remaining": 0.0, "resets": []}
            )
            pool["credentials"] += 1
            pool["limit"] += limit
            if 0 < reset_at <= now:
                remaining = limit
            elif reset_at > now:
                pool["resets"].append(reset_at)
            pool["remaining"] += remaining
    usage = {entry["backend"]: entry for entry in by_backend}
    entries = []
    for (backend, name), pool in sorted(pools.items()):
        unit = window_unit(name) or "tokens"  # pools holds only windows with a unit
        used = limited_tokens(usage[backend], unit) if backend in usage else 0
        burn = used / window_seconds
        if pool["remaining"] <= 0:
            seconds_left: float | None = 0.0
        else:
            seconds_left = pool["remaining"] / burn if burn > 0 else None
        exhausts_at = None if seconds_left is None else now + seconds_left
        earliest_reset = min(pool["resets"]) if pool["resets"] else None
        entries.append(
            {
                "backend": backend,
                "window": name,
                "unit": unit,
                "credentials": pool["credentials"],
                "limit": pool["limit"],
                "remaining": pool["remaining"],
                "burn_per_second": burn,
                "seconds_left": seconds_left,
                "exhausts_at": exhausts_at,
                "reset_at": earliest_reset,
                "before_reset": exhausts_at is not None and (earliest_reset is None or exhausts_at < earliest_reset),
            }
        )
    return entries
