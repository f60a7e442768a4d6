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
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from pool_service.selection import Account

TABLE = "requests"
# What a request is grouped and priced under: the model the upstream said it served, else the one asked for.
MODEL = "coalesce(nullif(served_model, ''), model)"
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
)
_SELECT = ", ".join(expression for _, expression in _AGGREGATES)
# Nearest-rank percentiles, ranked in SQL: (name, column, the rows it ranks, percent).
_PERCENTILES = (
    ("latency_p50_ms", "latency_ms", "latency_ms is not null", 50),
    ("latency_p95_ms", "latency_ms", "latency_ms is not null", 95),
    ("ttfb_p50_ms", "ttfb_ms", "ttfb_ms > 0", 50),  # 0: no byte reached the client
)
_NO_PERCENTILES = {name: None for name, _, _, _ in _PERCENTILES}
# Rate-limit window names (architecture.md, Contracts headers) → what they count; suffixed names ("tokens_usage_based",
# "requests-day") count the same thing as their prefix.
_UNITS = (
    ("requests", "requests"),
    ("input-tokens", "input_tokens"),
    ("output-tokens", "output_tokens"),
    ("tokens", "tokens"),
)

Database = str | os.PathLike | sqlite3.Connection | sqlite_utils.Database


@dataclass(frozen=True)
class Scope:
    """The rows a query reads: SQL conditions and their parameters."""

    conditions: tuple[str, ...] = ()
    parameters: tuple[object, ...] = ()

    def where(self) -> str:
        return f" where {' and '.join(self.conditions)}" if self.conditions else ""

    def narrowed(self, condition: str, *parameters: object) -> Scope:
        return Scope((*self.conditions, condition), (*self.parameters, *parameters))


def report(database: Database, now: float, window_seconds: float, accounts: list[dict[str, Any]] | None = None,
           by: Iterable[str] = (), filters: Mapping[str, str] | None = None) -> dict[str, Any]:
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
            everything = everything.narrowed(f"{_EXPRESSIONS[name]} = ?", value)
    window_scope = everything.narrowed("started_at >= ?", now - window_seconds)
    groupings = {**GROUPS, **{f"by_{name}": OPTIONAL_GROUPS[name] for name in extra}}
    with _connection(database) as connection:
        if connection is None:
            all_time, window = _totals_row(None), {**_totals_row(None), **_NO_PERCENTILES}
            groups: dict[str, list[dict]] = {name: [] for name in groupings}
        else:
            all_time = _totals_row(connection.execute(f"select {_SELECT} from {TABLE}{everything.where()}",
                                                      everything.parameters).fetchone())
            window = _grouped(connection, (), window_scope)[0]
            groups = {name: _grouped(connection, keys, window_scope) for name, keys in groupings.items()}
    all_time.update(_NO_PERCENTILES)
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


def pool_windows(accounts: Iterable[Account]) -> list[dict]:
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


def _has_table(connection: sqlite3.Connection) -> bool:
    query = "select 1 from sqlite_master where type = 'table' and name = ?"
    return connection.execute(query, [TABLE]).fetchone() is not None


def _totals_row(values: tuple | None) -> dict:
    totals = {name: (values[index] if values else 0) for index, (name, _) in enumerate(_AGGREGATES)}
    totals["cost_usd"] = round(float(totals["cost_usd"]), 6)
    return totals


def _grouped(connection: sqlite3.Connection, keys: tuple[str, ...], scope: Scope) -> list[dict[str, Any]]:
    """One entry per distinct value of keys among the scope's rows, with its totals and percentiles, most requests
    first; keys=() gives the one entry of every row (zero totals when there are none)."""
    expressions = [_EXPRESSIONS[key] for key in keys]
    group_by = f" group by {', '.join(expressions)}" if keys else ""
    query = f"select {', '.join([*expressions, _SELECT])} from {TABLE}{scope.where()}{group_by}"
    entries = {tuple(values[: len(keys)]): {**dict(zip(keys, values)), **_totals_row(values[len(keys):]),
                                            **_NO_PERCENTILES}
               for values in connection.execute(query, scope.parameters)}
    for name, column, condition, percent in _PERCENTILES:
        for group, value in _percentile_rows(connection, expressions, column, scope.narrowed(condition), percent):
            if group in entries:
                entries[group][name] = value
    ordered = sorted(entries.values(), key=lambda entry: (-entry["requests"], *(entry[key] for key in keys)))
    return ordered or [{**_totals_row(None), **_NO_PERCENTILES}] * (not keys)


def _percentile_rows(connection: sqlite3.Connection, expressions: list[str], column: str, scope: Scope,
                     percent: int) -> Iterator[tuple[tuple[object, ...], float]]:
    """(group, nearest-rank percentile of column) per group: SQLite ranks the rows, only the chosen one per group
    is returned. The rank is max(1, ceil(n * percent / 100)), in integers."""
    partition = f"partition by {', '.join(expressions)} " if expressions else ""
    keys = "".join(f"{expression} as key{index}, " for index, expression in enumerate(expressions))
    chosen = ", ".join(f"key{index}" for index in range(len(expressions)))
    query = (f"select {chosen + ', ' if chosen else ''}value from ("
             f"select {keys}{column} as value, row_number() over ({partition}order by {column}) as position, "
             f"count(*) over ({partition.strip()}) as size from {TABLE}{scope.where()}) "
             f"where position = max(1, (size * {percent} + 99) / 100)")
    for values in connection.execute(query, scope.parameters):
        yield tuple(values[:-1]), values[-1]


def percentile(ordered: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None when there are none)."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def limited_tokens(totals: dict, unit: str = "tokens") -> float:
    """The tokens that count against a rate-limit window of this unit: input (with cache writes, which
    Anthropic counts as input; cache reads are either inside input already or not limited) and output."""
    counted_input = totals["input_tokens"] + totals["cache_write_tokens"]
    return {
        "input_tokens": counted_input,
        "output_tokens": totals["output_tokens"],
        "tokens": counted_input + totals["output_tokens"],
        "requests": totals["requests"],
    }[unit]


def burn_rate(window: dict, window_seconds: float) -> dict:
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


def forecast(accounts: list[dict], by_backend: list[dict], window_seconds: float, now: float) -> list[dict]:
    """For each backend and rate-limit window: when its credentials' summed remaining runs out at the backend's
    burn rate over the report window.

    A window whose reset time has passed counts as full again. exhausts_at is null when nothing is being
    used, now when nothing remains. before_reset: it runs out before the earliest reset of that window
    among the backend's credentials (true as well when no reset time is known).
    """
    pools: dict[tuple[str, str], dict] = {}
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
        unit = window_unit(name)
        used = limited_tokens(usage[backend], unit) if backend in usage else 0
        burn = used / window_seconds
        if pool["remaining"] <= 0:
            seconds_left: float | None = 0.0
        else:
            seconds_left = pool["remaining"] / burn if burn > 0 else None
        exhausts_at = None if seconds_left is None else now + seconds_left
        reset_at = min(pool["resets"]) if pool["resets"] else None
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
                "reset_at": reset_at,
                "before_reset": exhausts_at is not None and (reset_at is None or exhausts_at < reset_at),
            }
        )
    return entries
