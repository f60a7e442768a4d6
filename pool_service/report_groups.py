"""The report's groups: totals and latency histograms per combination of group keys, computed in SQL (SQLite or
PostgreSQL: pool_service.report_sql), then rolled up in Python into each grouping with its percentiles.

Latencies are counted in logarithmic buckets 2% wide (SQL `ln`), so the database hands over a row per group and
bucket, never a row per request: a percentile is the smallest latency of the bucket that holds its nearest rank,
exact when the bucket holds one distinct value and at most 2% low otherwise.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pool_service.report_sql import Reader

BUCKETS_PER_E = 50  # buckets per factor of e: each ~2% wide
ZERO_BUCKET = -(10**9)  # latencies of 0 (and below) share one bucket below every other
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


def summaries(reader: Reader, expressions: Mapping[str, str], aggregates: str, scope: Scope,
              totals_of: Any, listed: str = "''") -> dict[tuple[Any, ...], Summary]:
    """Per distinct combination of expressions' keys among the scope's rows: totals (the additive aggregates,
    made a dict by totals_of), histograms, and the values of listed (an SQL aggregate giving comma-separated
    values, e.g. reader.listed(…)). Two queries, each reading the scope's rows once: a GROUP BY
    sorts, so the totals are summed per combination and latency bucket in the same sort, then over the buckets
    here."""
    keys = list(expressions.values())
    chosen = "".join(f"{key}, " for key in keys)
    width = len(keys)
    parts: dict[tuple[Any, ...], list[Sequence[Any]]] = defaultdict(list)
    latencies: dict[tuple[Any, ...], Histogram] = defaultdict(dict)
    bucket = _bucket("latency_ms")
    values_listed: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    query = (f"select {chosen}{bucket}, count(latency_ms), min(latency_ms), {listed}, {aggregates} from "
             f"{reader.table}{scope.where()} group by {chosen}{bucket}")
    for values in reader.rows(query, scope.parameters):
        combination, (latency_bucket, count, smallest, named), added = (tuple(values[:width]),
                                                                        values[width:width + 4], values[width + 4:])
        if named:
            values_listed[combination].update(str(named).split(","))
        parts[combination].append(added)
        if latency_bucket is not None:
            latencies[combination][latency_bucket] = (count, smallest)
    found = {combination: Summary(totals_of(tuple(values)), {"latency": latencies.get(combination, {}), "ttfb": {}},
                                  values_listed.get(combination, set()))
             for combination, values in ((combination, [exact_sum(column) for column in zip(*added)])
                                         for combination, added in parts.items())}
    narrowed = scope.narrowed("ttfb_ms > 0")  # 0: no byte reached the client
    query = (f"select {chosen}{_bucket('ttfb_ms')}, count(*), min(ttfb_ms) from {reader.table}{narrowed.where()} "
             f"group by {chosen}{_bucket('ttfb_ms')}")
    for values in reader.rows(query, narrowed.parameters):
        summary = found.get(tuple(values[:width]))
        if summary is not None:
            summary.histograms["ttfb"][values[-3]] = (values[-2], values[-1])
    return found


def _bucket(column: str) -> str:
    """The SQL of a value's bucket: NULL for no value, one bucket for 0 and below, else round(ln(value) * 50)."""
    return (f"case when {column} is null then null when {column} > 0 then "
            f"cast(round(ln({column}) * {BUCKETS_PER_E}) as integer) else {ZERO_BUCKET} end")


def regrouped(found: Mapping[tuple[Any, ...], Summary], keys: tuple[str, ...],
              by: tuple[str, ...]) -> dict[tuple[Any, ...], Summary]:
    """The summaries (keyed by keys) merged per distinct value of by (a subset of keys)."""
    positions = [keys.index(key) for key in by]
    members: dict[tuple[Any, ...], list[Summary]] = defaultdict(list)
    for combination, summary in found.items():
        members[tuple(combination[position] for position in positions)].append(summary)
    return {group: merged_summary(group_members) for group, group_members in members.items()}


def merged_summary(members: Sequence[Summary]) -> Summary:
    """One summary of several: totals summed (exact_sum; a member may have none, e.g. histograms alone),
    histograms merged, listed values united."""
    names = {name: None for member in members for name in member.totals}
    totals = {name: exact_sum([member.totals[name] for member in members if name in member.totals])
              for name in names}
    histograms = {kind: merge(member.histograms.get(kind, {}) for member in members) for kind in ("latency", "ttfb")}
    return Summary(totals, histograms, set().union(*(member.listed for member in members)))


def united(*parts: Mapping[tuple[Any, ...], Summary]) -> dict[tuple[Any, ...], Summary]:
    """Summaries of the same groups from several sources (the rows, the rollups) merged per group; a group that
    only histograms name (no totals) is left out."""
    members: dict[tuple[Any, ...], list[Summary]] = defaultdict(list)
    for part in parts:
        for group, summary in part.items():
            members[group].append(summary)
    merged = {group: merged_summary(group_members) for group, group_members in members.items()}
    return {group: summary for group, summary in merged.items() if "requests" in summary.totals}


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
        totals = {name: exact_sum([member.totals[name] for member in group_members]) for name in names}
        totals["cost_usd"] = dollars(totals["cost_usd"])
        merged = {name: merge(member.histograms[name] for member in group_members) for name in ("latency", "ttfb")}
        percentiles = {name: percentile_of(merged[histogram], fraction) for name, histogram, fraction in PERCENTILES}
        entries.append({**dict(zip(by, group)), **totals, **percentiles})
    return sorted(entries, key=lambda entry: (-entry["requests"], *(entry[key] for key in by)))


def dollars(cost: float) -> float:
    """A summed cost as the report shows it, to the millionth of a dollar. Rounded to 9 places first: sums of the
    same costs in another order (SQLite and PostgreSQL add a group's rows in their own order) differ in their last
    bits, which must not tip a cost lying on a half-millionth one way on one engine and the other on the other."""
    return round(round(float(cost), 9), 6)


def exact_sum(values: Sequence[Any]) -> Any:
    """Integers summed; reals summed exactly (math.fsum), so a sum does not depend on the order the database
    handed the parts over in (SQLite and PostgreSQL order groups differently)."""
    if all(isinstance(value, int) for value in values):
        return sum(values)
    return math.fsum(values)


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
