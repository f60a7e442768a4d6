"""The report's groups: totals and latency histograms per combination of group keys, computed by SQLite, then rolled
up in Python into each grouping with its percentiles.

Latencies are counted in logarithmic buckets 2% wide (SQL `ln`), so SQLite hands over a row per group and
bucket, never a row per request: a percentile is the smallest latency of the bucket that holds its nearest rank,
exact when the bucket holds one distinct value and at most 2% low otherwise.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

TABLE = "requests"
BUCKETS_PER_E = 50  # buckets per factor of e: each ~2% wide
_ZERO_BUCKET = -(10**9)  # latencies of 0 (and below) share one bucket below every other
# (name of the percentile, histogram it reads, fraction)
PERCENTILES = (("latency_p50_ms", "latency", 0.50), ("latency_p95_ms", "latency", 0.95),
               ("ttfb_p50_ms", "ttfb", 0.50))
NO_PERCENTILES: dict[str, float | None] = {name: None for name, _, _ in PERCENTILES}
# The histograms: which rows each counts (ttfb 0: no byte reached the client).
_HISTOGRAMS = (("latency", "latency_ms", "latency_ms is not null"), ("ttfb", "ttfb_ms", "ttfb_ms > 0"))

Histogram = dict[int, tuple[int, float]]  # bucket → (count, smallest value)


@dataclass(frozen=True)
class Scope:
    """The rows a query reads: SQL conditions and their parameters."""

    conditions: tuple[str, ...] = ()
    parameters: tuple[object, ...] = ()

    def where(self) -> str:
        return f" where {' and '.join(self.conditions)}" if self.conditions else ""

    def narrowed(self, condition: str, *parameters: object) -> Scope:
        return Scope((*self.conditions, condition), (*self.parameters, *parameters))


@dataclass
class Summary:
    """One combination's totals and histograms."""

    totals: dict[str, Any]
    histograms: dict[str, Histogram] = field(default_factory=lambda: {"latency": {}, "ttfb": {}})


def summaries(connection: sqlite3.Connection, expressions: Mapping[str, str], aggregates: str, scope: Scope,
              totals_of: Any) -> dict[tuple[Any, ...], Summary]:
    """Per distinct combination of expressions' keys among the scope's rows: totals (aggregates, made a dict by
    totals_of) and histograms. Three queries, each reading the scope's rows once."""
    ensure_ln(connection)
    keys = list(expressions.values())
    grouped = f" group by {', '.join(keys)}" if keys else ""
    chosen = "".join(f"{key}, " for key in keys)
    found = {tuple(values[: len(keys)]): Summary(totals_of(values[len(keys):]))
             for values in connection.execute(f"select {chosen}{aggregates} from {TABLE}{scope.where()}{grouped}",
                                              scope.parameters)}
    for name, column, condition in _HISTOGRAMS:
        bucket = (f"case when {column} > 0 then cast(round(ln({column}) * {BUCKETS_PER_E}) as integer) "
                  f"else {_ZERO_BUCKET} end")
        narrowed = scope.narrowed(condition)
        query = (f"select {chosen}{bucket}, count(*), min({column}) from {TABLE}{narrowed.where()} "
                 f"group by {chosen}{bucket}")
        for values in connection.execute(query, narrowed.parameters):
            summary = found.get(tuple(values[: len(keys)]))
            if summary is not None:
                summary.histograms[name][values[-3]] = (values[-2], values[-1])
    return found


def rolled_up(found: Mapping[tuple[Any, ...], Summary], keys: tuple[str, ...], by: tuple[str, ...],
              summed: Iterable[str]) -> list[dict[str, Any]]:
    """The combinations (keyed by keys) summed per distinct value of by (a subset of keys), each with its
    percentiles, most requests first; by=() gives the one entry of everything."""
    positions = [keys.index(key) for key in by]
    members: dict[tuple[Any, ...], list[Summary]] = defaultdict(list)
    for combination, summary in found.items():
        members[tuple(combination[position] for position in positions)].append(summary)
    names = list(summed)
    entries = []
    for group, group_members in members.items():
        totals = {name: sum(member.totals[name] for member in group_members) for name in names}
        totals["cost_usd"] = round(float(totals["cost_usd"]), 6)
        merged = {name: merge(member.histograms[name] for member in group_members) for name in ("latency", "ttfb")}
        percentiles = {name: percentile_of(merged[histogram], fraction) for name, histogram, fraction in PERCENTILES}
        entries.append({**dict(zip(by, group)), **totals, **percentiles})
    return sorted(entries, key=lambda entry: (-entry["requests"], *(entry[key] for key in by)))


def merge(histograms: Iterable[Histogram]) -> Histogram:
    merged: Histogram = {}
    for histogram in histograms:
        for bucket, (count, smallest) in histogram.items():
            before = merged.get(bucket)
            merged[bucket] = (count, smallest) if before is None else (before[0] + count, min(before[1], smallest))
    return merged


def percentile_of(histogram: Histogram, fraction: float) -> float | None:
    """Nearest rank over the histogram: the smallest value of the bucket holding rank ceil(fraction * n)."""
    size = sum(count for count, _ in histogram.values())
    if not size:
        return None
    rank, seen = max(1, math.ceil(fraction * size)), 0
    for bucket in sorted(histogram):
        count, smallest = histogram[bucket]
        seen += count
        if seen >= rank:
            return float(smallest)
    raise AssertionError("unreachable: the ranks add up to size")


def ensure_ln(connection: sqlite3.Connection) -> None:
    """SQLite builds without math functions get `ln` from Python (slower, same buckets)."""
    try:
        connection.execute("select ln(1)").fetchone()
    except sqlite3.OperationalError:
        connection.create_function("ln", 1, _ln, deterministic=True)


def _ln(value: float | None) -> float | None:
    return math.log(value) if value is not None and value > 0 else None
