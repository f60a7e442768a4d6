"""The dashboard's traffic over time (issue 14): requests, tokens and cost per time bucket, stacked by one key,
errors by status and latency / time-to-first-byte percentiles per bucket.

Everything is aggregated in SQL (GROUP BY bucket), so Python only handles buckets × keys. Percentiles come from
a histogram per bucket, also grouped in SQL: logarithmic bins 2% wide, so a percentile is within 1% (and the
0.1 ms it is rounded to) of the exact one, without sorting every value (an SQLite without math functions gets
the exact nearest rank by row_number()). A window holding most of the table is read by a plain scan: through
the started_at index it is slower.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pool_service.readonly import Database, has_columns, has_table, reading
from pool_service.rollup_pending import UNROLLED_HOURS
from pool_service.rollup_schema import HOUR, KINDS, STALE_TABLE, TIMELINE_BINS
from pool_service.rollups import MAX_STALE

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
BINS_PER_E = 50  # histogram bins per factor e: each is 2% wide
SCAN_SHARE = 0.3  # a window holding more of the table's time span than this is read by a plain scan
# The sums tables of the rollups (pool_service.rollup_schema) per key, and the key over their columns.
ROLLED_KEYS = {
    "backend": ("rollup_requests", "backend"),
    "model": ("rollup_requests", "coalesce(nullif(served_model, ''), model)"),
    "credential": ("rollup_requests", "credential"),
    "client": ("rollup_clients", "client"),
    "project": ("rollup_projects", "project"),
}


class TimelineError(ValueError):
    """A request the timeline cannot answer (an unknown key, a window too finely bucketed)."""


def bucket_for(window_seconds: float) -> float:
    """The default bucket of a window: the dashboard's sizes, else a window split into about 100 buckets."""
    for window, bucket in DEFAULT_BUCKETS:
        if window_seconds <= window:
            return bucket if window_seconds / bucket >= 10 else max(1.0, window_seconds / 60)
    return float(math.ceil(window_seconds / 100))


def timeline(database: Database, now: float, window_seconds: float, bucket_seconds: float = 0.0,
             by: str = "backend", *, hourly: bool = True) -> dict[str, Any]:
    """{"generated_at", "window_seconds", "bucket_seconds", "by", "starts": [bucket start…], "series": [{"key",
    "requests", "input_tokens", "output_tokens", "cost_usd": [per bucket]}], "errors": [{"status", "requests"}],
    "latency_p50_ms", "latency_p95_ms", "ttfb_p50_ms", "ttfb_p95_ms": [per bucket, NO_SAMPLE when none]}.

    Buckets are aligned to multiples of bucket_seconds; the last one holds now. Buckets of whole hours are read
    from the hourly rollups (pool_service.rollup_schema; hours a delete made stale from the rows), the others from
    the rows; hourly=False reads the rows always (the same answer)."""
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
    result: dict[str, Any] = {
        "generated_at": now, "window_seconds": window_seconds, "bucket_seconds": bucket, "by": by,
        "starts": [start + index * bucket for index in range(count)], "series": [], "errors": [],
        **{name: [NO_SAMPLE] * count for name in PERCENTILES},
    }
    with reading(database) as connection:
        if connection is None:
            return result
        if by in KEY_COLUMNS and not has_columns(connection, TABLE, [KEY_COLUMNS[by]]):
            raise TimelineError(f"this analytics database records no {by} yet (requests are attributed to a "
                                f"{by} from the version that records it on)")
        rolled = _rolled_hours(connection, start, end, bucket) if hourly else None
        if rolled is None:
            query = Query(start, bucket, end, _scans(connection, start, end))
        else:
            query = Query(start, bucket, end, False, tuple((hour * HOUR, (hour + 1) * HOUR) for hour in rolled.stale))
        result["series"], result["errors"] = _series_and_errors(connection, by, query, count, rolled)
        for column in ("latency_ms", "ttfb_ms"):
            for name, values in _percentiles(connection, column, query, count, rolled).items():
                result[name] = values
    return result


@dataclass(frozen=True)
class Hours:
    """The window's hours read from the rollups: from first on, before end, but the stale ones; each bucket is
    hours_per_bucket of them."""

    first: int
    end: int
    hours_per_bucket: int
    stale: tuple[int, ...]

    @property
    def slot(self) -> str:
        return "(hour - ?) / ?"

    @property
    def where(self) -> str:
        stale = f" and hour not in ({', '.join('?' * len(self.stale))})" if self.stale else ""
        return f"hour >= ? and hour < ?{stale}"

    def parameters(self) -> tuple[int, ...]:
        return (self.first, self.hours_per_bucket, self.first, self.end, *self.stale)


def _rolled_hours(connection: sqlite3.Connection, start: float, end: float, bucket: float) -> Hours | None:
    """How the rollups answer a window of buckets of whole hours (None when they cannot: other buckets, no rollups
    in this database, no math functions, too many stale hours)."""
    if bucket % HOUR or start % HOUR or not start > 0 or not _has_math(connection):
        return None
    if not has_table(connection, STALE_TABLE):
        return None
    first, last = int(start // HOUR), int(end // HOUR)
    stale = tuple(hour for hour, in connection.execute(f"select hour from ({UNROLLED_HOURS}) where hour >= ? "
                                                       "and hour < ? order by hour", [first, last]))
    return Hours(first, last, int(bucket // HOUR), stale) if len(stale) <= MAX_STALE else None


# The percentiles per bucket: column and fraction (nearest rank). A time to first byte of 0 means no byte.
PERCENTILES = {
    "latency_p50_ms": ("latency_ms", 0.50),
    "latency_p95_ms": ("latency_ms", 0.95),
    "ttfb_p50_ms": ("ttfb_ms", 0.50),
    "ttfb_p95_ms": ("ttfb_ms", 0.95),
}


@dataclass(frozen=True)
class Query:
    """The window's bounds and how to read it: through the started_at index, or by a plain scan; ranges, when
    given, are the only rows read (the stale hours of a window the rollups answer)."""

    start: float
    bucket: float
    end: float
    scan: bool
    ranges: tuple[tuple[float, float], ...] | None = None

    @property
    def slot(self) -> str:
        return "cast((started_at - ?) / ? as integer)"

    @property
    def where(self) -> str:
        column = "+started_at" if self.scan else "started_at"  # unary + keeps SQLite off the index
        if self.ranges is not None:
            return "(" + " or ".join(f"({column} >= ? and {column} < ?)" for _ in self.ranges) + ")"
        return f"{column} >= ? and {column} < ?"

    def parameters(self, slots: int = 1) -> tuple[float, ...]:
        bounds = (self.start, self.end) if self.ranges is None else tuple(x for pair in self.ranges for x in pair)
        return (self.start, self.bucket) * slots + bounds

    @property
    def reads(self) -> bool:
        return self.ranges is None or bool(self.ranges)


def _scans(connection: sqlite3.Connection, start: float, end: float) -> bool:
    """Whether the window holds enough of the table that a plain scan beats the index (both ends are index reads)."""
    first, last = connection.execute(f"select min(started_at), max(started_at) from {TABLE}").fetchone()
    if first is None or last <= first:
        return False
    covered = min(end, last) - max(start, first)
    return bool(covered / (last - first) > SCAN_SHARE)


def _series_and_errors(connection: sqlite3.Connection, by: str, query: Query, count: int,
                       rolled: Hours | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One pass: sums per bucket, part and status; the series sum over statuses, the errors over parts. With
    rolled, the rollups' hours are added (their errors by status from rollup_requests, whatever the key)."""
    parts: dict[str, dict[str, list[Any]]] = defaultdict(lambda: _empty(count))
    statuses: dict[int, list[int]] = defaultdict(lambda: [0] * count)
    sums = "count(*), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), total(cost_usd)"
    if query.reads:
        sql = (f"select {query.slot} as slot, {KEYS[by]} as part, status, {sums} from {TABLE} where {query.where} "
               "group by slot, part, status")
        _add(connection.execute(sql, query.parameters()), parts, statuses)
    if rolled is not None:
        table, part = ROLLED_KEYS[by]
        sums = "sum(requests), sum(input_tokens), sum(output_tokens), sum(cost_usd)"
        status = "status" if table == "rollup_requests" else "null"
        sql = (f"select {rolled.slot} as slot, {part} as part, {status} as status, {sums} from {table} "
               f"where {rolled.where} group by slot, part, status")
        _add(connection.execute(sql, rolled.parameters()), parts, statuses)
        if table != "rollup_requests":
            sql = (f"select {rolled.slot} as slot, status, sum(requests) from rollup_requests "
                   f"where {rolled.where} and status >= 400 group by slot, status")
            for slot, status_code, requests in connection.execute(sql, rolled.parameters()):
                statuses[status_code][slot] += requests
    errors = [{"status": status, "requests": requests} for status, requests in sorted(statuses.items())]
    return _ranked(parts, count), errors


def _add(rows: Iterable[Sequence[Any]], parts: dict[str, dict[str, list[Any]]],
         statuses: dict[int, list[int]]) -> None:
    for slot, part, status, requests, input_tokens, output_tokens, cost in rows:
        values = parts[part]
        for name, value in (("requests", requests), ("input_tokens", input_tokens),
                            ("output_tokens", output_tokens), ("cost_usd", cost)):
            values[name][slot] += value
        if status is not None and status >= 400:
            statuses[status][slot] += requests


def _ranked(parts: dict[str, dict[str, list[Any]]], count: int) -> list[dict[str, Any]]:
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


def _percentiles(connection: sqlite3.Connection, column: str, query: Query, count: int,
                 rolled: Hours | None = None) -> dict[str, list[float]]:
    """The PERCENTILES of column per bucket, from a histogram grouped in SQL (exact when SQLite has no ln()),
    with the rollups' bins of their hours when rolled."""
    wanted = {name: fraction for name, (of, fraction) in PERCENTILES.items() if of == column}
    if not _has_math(connection):
        return {name: _exact(connection, column, fraction, query, count) for name, fraction in wanted.items()}
    histograms: dict[int, list[tuple[int, int]]] = defaultdict(list)
    if query.reads:
        sql = (f"select {query.slot} as slot, cast(ln({column}) * {BINS_PER_E} as integer) as bin, count(*) "
               f"from {TABLE} where {query.where} and {column} > 0 group by slot, bin")
        for slot, bin_number, samples in connection.execute(sql, query.parameters()):
            histograms[slot].append((bin_number, samples))
    if rolled is not None:
        sql = (f"select {rolled.slot} as slot, bin, sum(samples) from {TIMELINE_BINS} where {rolled.where} "
               "and kind = ? group by slot, bin")
        for slot, bin_number, samples in connection.execute(sql, (*rolled.parameters(), KINDS.index(column))):
            histograms[slot].append((bin_number, samples))
    result = {name: [NO_SAMPLE] * count for name in wanted}
    for slot, bins in histograms.items():
        bins.sort()
        total = sum(samples for _, samples in bins)
        for name, fraction in wanted.items():
            rank, seen = max(1, math.ceil(fraction * total)), 0
            for bin_number, samples in bins:
                seen += samples
                if seen >= rank:
                    result[name][slot] = round(math.exp((bin_number + 0.5) / BINS_PER_E), 1)
                    break
    return result


def _has_math(connection: sqlite3.Connection) -> bool:
    try:
        connection.execute("select ln(1)").fetchone()
    except sqlite3.OperationalError:
        return False
    return True


def _exact(connection: sqlite3.Connection, column: str, fraction: float, query: Query, count: int) -> list[float]:
    """The nearest-rank percentile per bucket by row_number() (rank ceil(fraction × n), in integers)."""
    hundredths = round(fraction * 100)
    sql = (f"select slot, value from (select {query.slot} as slot, {column} as value, "
           f"row_number() over (partition by {query.slot} order by {column}) as position, "
           f"count(*) over (partition by {query.slot}) as samples from {TABLE} "
           f"where {query.where} and {column} > 0) "
           f"where position = max(1, (samples * {hundredths} + 99) / 100)")
    values = [NO_SAMPLE] * count
    for slot, value in connection.execute(sql, query.parameters(3)):
        values[slot] = value
    return values
