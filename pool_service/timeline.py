"""The dashboard's traffic over time (issue 14): requests, tokens and cost per time bucket, stacked by one key,
errors by status and latency / time-to-first-byte percentiles per bucket.

Everything is aggregated in SQL over the window's rows, found through the started_at index (GROUP BY bucket;
percentiles by row_number() over each bucket's sorted values), so Python only handles buckets × keys.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from typing import Any

from pool_service.readonly import Database, has_columns, reading

TABLE = "requests"
# The keys traffic can be stacked by, as SQL over the requests table: the model the upstream served, else the
# one asked for (as the analytics report groups it); attribution columns (client, project) once recorded.
KEYS = {
    "backend": "coalesce(backend, '')",
    "model": "coalesce(nullif(served_model, ''), model, '')",
    "credential": "coalesce(credential, '')",
    "client": "coalesce(client, '')",
    "project": "coalesce(project, '')",
}
KEY_COLUMNS = {"client": "client", "project": "project"}
SERIES_SHOWN = 8  # stacked parts at most; the rest is summed into OTHER
OTHER = "(other)"
MAX_BUCKETS = 500
# Window → bucket: a chart of 60 to 168 points for the dashboard's 1 h, 24 h and 7 d.
DEFAULT_BUCKETS = ((3600.0, 60.0), (86_400.0, 900.0), (7 * 86_400.0, 3600.0))
NO_SAMPLE = -1.0  # a bucket's percentile when it has no sample (the repeated proto fields cannot be null)


class TimelineError(ValueError):
    """A request the timeline cannot answer (an unknown key, a window too finely bucketed)."""


def bucket_for(window_seconds: float) -> float:
    """The default bucket of a window: the dashboard's sizes, else a window split into about 100 buckets."""
    for window, bucket in DEFAULT_BUCKETS:
        if window_seconds <= window:
            return bucket if window_seconds / bucket >= 10 else max(1.0, window_seconds / 60)
    return float(math.ceil(window_seconds / 100))


def timeline(database: Database, now: float, window_seconds: float, bucket_seconds: float = 0.0,
             by: str = "backend") -> dict[str, Any]:
    """{"generated_at", "window_seconds", "bucket_seconds", "by", "starts": [bucket start…], "series": [{"key",
    "requests", "input_tokens", "output_tokens", "cost_usd": [per bucket]}], "errors": [{"status", "requests"}],
    "latency_p50_ms", "latency_p95_ms", "ttfb_p50_ms", "ttfb_p95_ms": [per bucket, NO_SAMPLE when none]}.

    Buckets are aligned to multiples of bucket_seconds; the last one holds now."""
    if not window_seconds > 0:
        raise TimelineError(f"the window must be a positive number of seconds, got {window_seconds!r}")
    if by not in KEYS:
        raise TimelineError(f"traffic can be stacked by {', '.join(KEYS)}, not {by!r}")
    bucket = bucket_seconds if bucket_seconds > 0 else bucket_for(window_seconds)
    count = math.ceil(window_seconds / bucket)
    if count > MAX_BUCKETS:
        raise TimelineError(f"{count} buckets of {bucket:g}s are too many (at most {MAX_BUCKETS}): use larger ones")
    end = (math.floor(now / bucket) + 1) * bucket
    start = end - count * bucket
    result: dict[str, Any] = {"generated_at": now, "window_seconds": window_seconds, "bucket_seconds": bucket, "by": by,
              "starts": [start + index * bucket for index in range(count)], "series": [], "errors": [],
              **{name: [NO_SAMPLE] * count for name in PERCENTILES}}
    with reading(database) as connection:
        if connection is None:
            return result
        if by in KEY_COLUMNS and not has_columns(connection, TABLE, [KEY_COLUMNS[by]]):
            raise TimelineError(f"this analytics database records no {by} yet (requests are attributed to a "
                                f"{by} from the version that records it on)")
        bounds = (start, bucket, start, end)
        result["series"] = _series(connection, KEYS[by], bounds, count)
        result["errors"] = _errors(connection, bounds, count)
        for name, (column, fraction) in PERCENTILES.items():
            for slot, value in _percentile(connection, column, fraction, bounds):
                result[name][slot] = value
    return result


# The percentiles per bucket: column and fraction (nearest rank). A time to first byte of 0 means no byte.
PERCENTILES = {
    "latency_p50_ms": ("latency_ms", 0.50),
    "latency_p95_ms": ("latency_ms", 0.95),
    "ttfb_p50_ms": ("ttfb_ms", 0.50),
    "ttfb_p95_ms": ("ttfb_ms", 0.95),
}
_SLOT = "cast((started_at - ?) / ? as integer)"
_WINDOW = "started_at >= ? and started_at < ?"


def _series(connection: sqlite3.Connection, key: str, bounds: tuple[float, ...], count: int) -> list[dict[str, Any]]:
    query = (f"select {_SLOT} as slot, {key} as part, count(*), coalesce(sum(input_tokens), 0), "
             f"coalesce(sum(output_tokens), 0), total(cost_usd) from {TABLE} where {_WINDOW} group by slot, part")
    parts: dict[str, dict[str, list[Any]]] = defaultdict(lambda: _empty(count))
    for slot, part, requests, input_tokens, output_tokens, cost in connection.execute(query, bounds):
        values = parts[part]
        for name, value in (("requests", requests), ("input_tokens", input_tokens),
                            ("output_tokens", output_tokens), ("cost_usd", cost)):
            values[name][slot] += value
    ranked = sorted(parts.items(), key=lambda item: (-sum(item[1]["requests"]), item[0]))
    shown, rest = ranked[:SERIES_SHOWN], ranked[SERIES_SHOWN:]
    if rest:
        other = _empty(count)
        for _, values in rest:
            for name, column in values.items():
                other[name] = [total + value for total, value in zip(other[name], column)]
        shown.append((OTHER, other))
    return [{"key": part, **values, "cost_usd": [round(value, 6) for value in values["cost_usd"]]}
            for part, values in shown]


def _empty(count: int) -> dict[str, list[Any]]:
    return {"requests": [0] * count, "input_tokens": [0] * count, "output_tokens": [0] * count,
            "cost_usd": [0.0] * count}


def _errors(connection: sqlite3.Connection, bounds: tuple[float, ...], count: int) -> list[dict[str, Any]]:
    query = (f"select {_SLOT} as slot, status, count(*) from {TABLE} where {_WINDOW} and status >= 400 "
             "group by slot, status")
    statuses: dict[int, list[int]] = defaultdict(lambda: [0] * count)
    for slot, status, requests in connection.execute(query, bounds):
        statuses[status][slot] += requests
    return [{"status": status, "requests": requests} for status, requests in sorted(statuses.items())]


def _percentile(connection: sqlite3.Connection, column: str, fraction: float,
                bounds: tuple[float, ...]) -> list[tuple[int, float]]:
    """(bucket, value) of the nearest-rank percentile in each bucket that has samples: rank ceil(fraction × n),
    in integers (SQLite may lack ceil)."""
    hundredths = round(fraction * 100)
    query = (f"select slot, value from (select {_SLOT} as slot, {column} as value, "
             f"row_number() over (partition by {_SLOT} order by {column}) as position, "
             f"count(*) over (partition by {_SLOT}) as samples from {TABLE} "
             f"where {_WINDOW} and {column} > 0) "
             f"where position = max(1, (samples * {hundredths} + 99) / 100)")
    start, bucket = bounds[0], bounds[1]
    return list(connection.execute(query, (start, bucket, start, bucket, start, bucket, *bounds[2:])))
