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
    listed: set[str] = field(default_factory=set)  # the values of summaries' listed expression


def summaries(connection: sqlite3.Connection, expressions: Mapping[str, str], aggregates: str, scope: Scope,
              totals_of: Any, listed: str = "''") -> dict[tuple[Any, ...], Summary]:
    """Per distinct combination of expressions' keys among the scope's rows: totals (the additive aggregates,
    made a dict by totals_of), histograms, and the values of listed (an SQL aggregate giving comma-separated
    values, e.g. group_concat(distinct …)). Two queries, each reading the scope's rows once: SQLite's GROUP BY
    sorts, so the totals are summed per combination and latency bucket in the same sort, then over the buckets
    here."""
    ensure_ln(connection)
    keys = list(expressions.values())
    chosen = "".join(f"{key}, " for key in keys)
    width = len(keys)
    sums: dict[tuple[Any, ...], list[Any]] = {}
    latencies: dict[tuple[Any, ...], Histogram] = defaultdict(dict)
    bucket = _bucket("latency_ms")
    values_listed: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    query = (f"select {chosen}{bucket}, count(latency_ms), min(latency_ms), {listed}, {aggregates} from {TABLE}"
             f"{scope.where()} group by {chosen}{bucket}")
    for values in connection.execute(query, scope.parameters):
        combination, (latency_bucket, count, smallest, named), added = (tuple(values[:width]),
                                                                        values[width:width + 4], values[width + 4:])
        if named:
            values_listed[combination].update(str(named).split(","))
        before = sums.get(combination)
        sums[combination] = list(added) if before is None else [old + new for old, new in zip(before, added)]
        if latency_bucket is not None:
            latencies[combination][latency_bucket] = (count, smallest)
    found = {combination: Summary(totals_of(tuple(values)), {"latency": latencies.get(combination, {}), "ttfb": {}},
                                  values_listed.get(combination, set()))
             for combination, values in sums.items()}
    narrowed = scope.narrowed("ttfb_ms > 0")  # 0: no byte reached the client
    query = (f"select {chosen}{_bucket('ttfb_ms')}, count(*), min(ttfb_ms) from {TABLE}{narrowed.where()} "
             f"group by {chosen}{_bucket('ttfb_ms')}")
    for values in connection.execute(query, narrowed.parameters):
        summary = found.get(tuple(values[:width]))
        if summary is not None:
            summary.histograms["ttfb"][values[-3]] = (values[-2], values[-1])
    return found


def _bucket(column: str) -> str:
    """The SQL of a value's bucket: NULL for no value, one bucket for 0 and below, else round(ln(value) * 50)."""
    return (f"case when {column} is null then null when {column} > 0 then "
            f"cast(round(ln({column}) * {BUCKETS_PER_E}) as integer) else {_ZERO_BUCKET} end")


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
