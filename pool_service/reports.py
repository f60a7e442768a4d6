"""The analytics report behind GET /analytics and `dario analytics`: totals, groups, burn rate, forecast.

Sums, counts and latency percentiles are SQL aggregates (the window is found through the started_at index, a
session, project or client through its own); percentiles are over the window's rows only, so all-time totals
carry none. The SQL runs on the host's SQLite or on the cluster's PostgreSQL (pool_service.report_sql), whose rows
also carry the instance that recorded them (by=instance, the instance filter).
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from dario.json_types import JsonObject
from pool_service import rollups
from pool_service.report_groups import NO_PERCENTILES, Scope, Summary, dollars, regrouped, rolled_up, summaries, united
from pool_service.report_sql import Reader, SqliteReader, count_if, summed, summed_real
from pool_service.schema import TOTALS_TABLE
from pool_service.selection import Account

TABLE = "requests"
# What a request is grouped under: the model the client asked for, streamed or not (the served ones are listed
# beside it, and pricing reads the served model: pool_service.analytics.priced).
MODEL = "coalesce(model, '')"
SERVED = "nullif(served_model, '')"  # listed (reader.listed) per group
GROUPS = {"by_backend": ("backend",), "by_credential": ("backend", "credential"), "by_model": ("model",)}
# Issue 14: groupings a caller asks for (report's by), and the columns a report can be narrowed to (filters).
OPTIONAL_GROUPS = {"session": ("session",), "project": ("project",), "client": ("client",),
                   "instance": ("instance",)}
FILTERS = ("session", "project", "client", "instance")
# Issue 15: what only rows recorded in the cluster's PostgreSQL know (a host's SQLite holds its own rows only).
CLUSTER_ONLY = frozenset({"instance"})
# Grouping by expressions (not bare columns) keeps the planner on the started_at index: walking a group column's
# index to save a sort would read the whole table instead of the window.
_EXPRESSIONS = {"backend": "coalesce(backend, '')", "credential": "coalesce(credential, '')", "model": MODEL,
                "session": "coalesce(session, '')", "project": "coalesce(project, '')",
                "client": "coalesce(client, '')", "instance": "coalesce(instance, '')"}
_AGGREGATES = (
    ("requests", "count(*)"),
    ("errors", count_if("status >= 400")),
    ("input_tokens", summed("input_tokens")),
    ("output_tokens", summed("output_tokens")),
    ("cache_read_tokens", summed("cache_read_tokens")),
    ("cache_write_tokens", summed("cache_write_tokens")),
    ("reasoning_tokens", summed("reasoning_tokens")),
    ("cost_usd", summed_real("cost_usd")),
    ("unpriced_requests", "count(*) - count(cost_usd)"),
    ("failovers", count_if("coalesce(failover, '') != ''")),
    ("fallbacks", count_if("coalesce(fallback_from, '') != ''")),
    ("estimated_requests", summed("usage_estimated")),
)
_SELECT = ", ".join(expression for _, expression in _AGGREGATES)
_SUMMED = tuple(name for name, _ in _AGGREGATES)
# The running totals' columns in _AGGREGATES' order (pool_service.migrations keeps them).
_RUNNING = ", ".join("requests - priced_requests" if name == "unpriced_requests" else name for name in _SUMMED)
# The same over an hourly rollup's sum columns (pool_service.rollup_schema).
_ROLLED = ", ".join("sum(requests) - sum(priced_requests)" if name == "unpriced_requests" else f"sum({name})"
                    for name in _SUMMED)
_KEYS = ("backend", "credential", "model")
# Rate-limit window names (architecture.md, Contracts headers) → what they count; suffixed names ("tokens_usage_based",
# "requests-day") count the same thing as their prefix.
_UNITS = (
    ("requests", "requests"),
    ("input-tokens", "input_tokens"),
    ("output-tokens", "output_tokens"),
    ("tokens", "tokens"),
)

if TYPE_CHECKING:  # a sqlite-utils Database (tools and tests) is read through its connection; pool_service never
    import sqlite_utils  # imports sqlite-utils (pool_service.analytics)

    Database = str | os.PathLike[str] | sqlite3.Connection | sqlite_utils.Database
else:
    Database = str | os.PathLike[str] | sqlite3.Connection


def _plain(database: Database | Reader) -> str | os.PathLike[str] | sqlite3.Connection | Reader:
    """database, or the connection of a sqlite-utils Database."""
    if isinstance(database, str | os.PathLike | sqlite3.Connection):
        return database
    connection = getattr(database, "conn", None)  # sqlite-utils' Database; a Reader has none
    return connection if isinstance(connection, sqlite3.Connection) else cast("Reader", database)


def report(database: Database | Reader, now: float, window_seconds: float, accounts: list[JsonObject] | None = None,
           by: Iterable[str] = (), filters: Mapping[str, str] | None = None, *, hourly: bool = True) -> JsonObject:
    """The JSON-able report over the last window_seconds before now.

    {"generated_at", "window_seconds", "window": totals, "all_time": totals (no percentiles),
    "by_backend" / "by_credential" / "by_model": [{group keys…, totals…}] over the window, "burn_rate",
    "forecast"}, and "by_session" / "by_project" / "by_client" for each of those named in by. filters ({"session":
    id, …}) narrows every part to the matching requests. accounts is the pools' state for the forecast:
    [{"backend", "credential", "windows": [{"name", "limit", "remaining", "reset_at"}]}]; None gives an empty
    forecast. Every sum, count and percentile is computed in SQL: only a row per group reaches Python. database
    is the host's SQLite (a path or connection) or a Reader (pool_service.report_sql: the cluster's PostgreSQL,
    where by=instance and the instance filter apply too).

    Without filters, SQLite's window is read from the hourly rollups for its whole hours (pool_service.rollups)
    and from the rows for the rest; hourly=False reads every row of the window (the same report).
    """
    if not window_seconds > 0:
        raise ValueError(f"window_seconds must be positive, got {window_seconds!r}")
    extra = check_groupings(by)
    database = _plain(database)
    clustered = not isinstance(database, str | os.PathLike | sqlite3.Connection) and database.instances
    everything = Scope()
    for name, value in sorted((filters or {}).items()):
        if name not in FILTERS:
            raise ValueError(f"cannot filter by {name!r}; use one of {', '.join(FILTERS)}")
        if value and name in CLUSTER_ONLY and not clustered:
            raise ValueError(f"only a cluster's analytics ([cluster] postgres) can be filtered by {name}")
        if value:
            everything = everything.narrowed(f"{name} = ?", value)  # the bare column: its index finds the rows
    if not clustered and CLUSTER_ONLY & set(extra):
        raise ValueError(f"only a cluster's analytics ([cluster] postgres) can be grouped by "
                         f"{', '.join(sorted(CLUSTER_ONLY & set(extra)))}")
    window_scope = everything.narrowed("started_at >= ?", now - window_seconds)
    empty = {**_totals_row(None), **NO_PERCENTILES}
    with _connection(database) as connection:
        if connection is None:
            all_time, window = _totals_row(None), empty
            groups: dict[str, list[dict[str, Any]]] = {name: [] for name in
                                                       [*GROUPS, *(f"by_{key}" for key in extra)]}
        else:
            all_time = _all_time(connection, everything)
            cut = rollups.split(connection, now - window_seconds, everything) if hourly else None
            if cut is not None:
                window, groups = _from_rollups(connection, cut, extra, empty)
            else:
                window, groups = _from_rows(connection, window_scope, extra, empty)
    all_time.update(NO_PERCENTILES)
    return {
        "generated_at": now,
        "window_seconds": window_seconds,
        "window": window,
        "all_time": all_time,
        **groups,
        "burn_rate": burn_rate(window, window_seconds),
        "forecast": forecast(accounts or [], groups["by_backend"], window_seconds, now),
        "source": "cluster" if clustered else "instance",
    }


def _from_rows(reader: Reader, window_scope: Scope, extra: list[str],
               empty: JsonObject) -> tuple[JsonObject, dict[str, list[dict[str, Any]]]]:
    """The window and its groupings from the window's rows."""
    # One pass per (backend, credential, model) serves the window and the three default groupings.
    combinations = summaries(reader, {key: _EXPRESSIONS[key] for key in _KEYS}, _SELECT, window_scope,
                             _summed_row, listed=reader.listed(SERVED))
    window = (rolled_up(combinations, _KEYS, (), _SUMMED) or [empty])[0]
    groups = {name: rolled_up(combinations, _KEYS, keys, _SUMMED) for name, keys in GROUPS.items()}
    groups["by_model"] = [{"model": entry["model"], "served_models": _served(entry["model"], combinations),
                           **entry} for entry in groups["by_model"]]
    if extra:  # one more pass for all of them: a session has one client and project or a few
        asked = tuple(extra)
        found = summaries(reader, {key: _EXPRESSIONS[key] for key in asked}, _SELECT, window_scope, _summed_row)
        for key in asked:
            groups[f"by_{key}"] = rolled_up(found, asked, (key,), _SUMMED)
    return window, groups


def _from_rollups(reader: Reader, cut: rollups.Split, extra: list[str],
                  empty: JsonObject) -> tuple[JsonObject, dict[str, list[dict[str, Any]]]]:
    """The window and its groupings from the rollups' whole hours and the rest of the window's rows, merged: the
    same entries as the rows alone give (sums, and percentiles from the same buckets)."""
    raw = summaries(reader, {key: _EXPRESSIONS[key] for key in _KEYS}, _SELECT, cut.raw, _summed_row,
                    listed=reader.listed(SERVED))
    combinations = united(raw, rollups.sums(reader, cut, "rollup_requests", _KEYS, _ROLLED, _summed_row,
                                            listed=reader.listed(SERVED)))
    credentials = rollups.histograms(reader, cut, "rollup_credential_bins", ("backend", "credential"))
    models = rollups.histograms(reader, cut, "rollup_model_bins", ("model",))

    def grouped(by: tuple[str, ...], binned: dict[tuple[Any, ...], Summary],
                binned_by: tuple[str, ...]) -> list[dict[str, Any]]:
        return rolled_up(united(regrouped(combinations, _KEYS, by), regrouped(binned, binned_by, by)), by, by,
                         _SUMMED)

    window = (grouped((), credentials, ("backend", "credential")) or [empty])[0]
    groups = {name: grouped(keys, *((models, ("model",)) if keys == ("model",) else
                                    (credentials, ("backend", "credential"))))
              for name, keys in GROUPS.items()}
    groups["by_model"] = [{"model": entry["model"], "served_models": _served(entry["model"], combinations), **entry}
                          for entry in groups["by_model"]]
    if extra:
        asked = tuple(extra)
        found = summaries(reader, {key: _EXPRESSIONS[key] for key in asked}, _SELECT, cut.raw, _summed_row)
        for key in asked:
            sums_table, bins_table = rollups.ATTRIBUTED[key]
            groups[f"by_{key}"] = rolled_up(united(regrouped(found, asked, (key,)),
                                                   rollups.sums(reader, cut, sums_table, (key,), _ROLLED, _summed_row),
                                                   rollups.histograms(reader, cut, bins_table, (key,))),
                                            (key,), (key,), _SUMMED)
    return window, groups


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
def _connection(database: Database | Reader) -> Iterator[Reader | None]:
    """A reader (None when there is no database or table yet); closes only what it opened."""
    database = _plain(database)
    if isinstance(database, sqlite3.Connection):
        reader = SqliteReader(database)
        yield reader if reader.has_table(reader.table) else None
        return
    if not isinstance(database, str | os.PathLike):
        yield database if database.has_table(database.table) else None
        return
    if not os.path.exists(database):
        yield None
        return
    connection = sqlite3.connect(database)
    try:
        reader = SqliteReader(connection)
        yield reader if reader.has_table(reader.table) else None
    finally:
        connection.close()


def _served(model: str, combinations: Mapping[tuple[Any, ...], Summary]) -> str:
    """The models served under a requested one, comma-separated (empty when no upstream named one)."""
    return ",".join(sorted({name for combination, summary in combinations.items() if combination[2] == model
                            for name in summary.listed}))


def _all_time(reader: Reader, everything: Scope) -> dict[str, Any]:
    """Every row's totals: from the running totals SQLite's migrations keep (one row) unless filtered, else
    summed."""
    if not everything.conditions and reader.keeps_totals():
        return _totals_row(reader.one(f"select {_RUNNING} from {TOTALS_TABLE} where id = 1"))
    return _totals_row(reader.one(f"select {_SELECT} from {reader.table}{everything.where()}", everything.parameters))


def _summed_row(values: Sequence[Any]) -> dict[str, Any]:
    """A group's sums (its cost not rounded yet: it is rounded once, after the parts are added up)."""
    return {name: values[index] for index, (name, _) in enumerate(_AGGREGATES)}


def _totals_row(values: Sequence[Any] | None) -> JsonObject:
    totals = {name: (values[index] if values else 0) for index, (name, _) in enumerate(_AGGREGATES)}
    totals["cost_usd"] = dollars(totals["cost_usd"])
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
