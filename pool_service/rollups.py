"""Reading the hourly rollups (pool_service.rollup_schema) for a window: which hours they answer, which rows are
left to read (the partial hour at the window's start, and hours a delete made stale), and the rollups' sums and
histograms over those hours as report_groups Summaries, to be merged with the rows' own.

Only SQLite keeps rollups (the cluster's PostgreSQL reports from its rows), and only a report without filters can
read them (a filter on session, project or client needs the other keys of the same rows).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pool_service.report_groups import Histogram, Scope, Summary
from pool_service.report_sql import Reader, SqliteReader
from pool_service.rollup_pending import UNROLLED_HOURS
from pool_service.rollup_schema import BIN_TABLES, HOUR, KINDS, STALE_TABLE, SUM_TABLES

MAX_STALE = 48  # a window with more stale hours than this is read from its rows
# The report's histogram names (report_groups) of the rollups' kinds (rollup_schema.KINDS).
HISTOGRAM_NAMES = {KINDS.index("latency_ms"): "latency", KINDS.index("ttfb_ms"): "ttfb"}
# The table of the sums and of the histograms per attribution key (session, project, client).
ATTRIBUTED = {next(iter(keys)): (table, next(name for name, bins in BIN_TABLES.items() if bins == keys))
              for table, keys in SUM_TABLES.items() if len(keys) == 1}


@dataclass(frozen=True)
class Split:
    """A window cut at its first whole hour: the hours from first_hour on (but the stale ones) come from the
    rollups, the rest of the window (raw) from the rows."""

    first_hour: int
    stale: tuple[int, ...]
    raw: Scope

    def hours(self) -> tuple[str, list[object]]:
        """The SQL condition on a rollup's hour column, and its parameters."""
        stale = f" and hour not in ({', '.join('?' * len(self.stale))})" if self.stale else ""
        return f"hour >= ?{stale}", [self.first_hour, *self.stale]


def split(reader: Reader, since: float, scope: Scope) -> Split | None:
    """How to read the rows with started_at >= since in scope, or None when the rollups cannot answer (another
    engine, a filtered scope, no rollups in this database, too many stale hours)."""
    if not isinstance(reader, SqliteReader) or scope.conditions or not since > 0 or not reader.has_table(STALE_TABLE):
        return None
    first = math.ceil(since / HOUR)
    while first * HOUR < since:  # the division rounded down
        first += 1
    stale = tuple(hour for hour, in reader.rows(f"select hour from ({UNROLLED_HOURS}) where hour >= ? order by hour",
                                                [first]))
    if len(stale) > MAX_STALE:
        return None
    ranges, parameters = ["(started_at >= ? and started_at < ?)"], [since, float(first * HOUR)]
    for hour in stale:
        ranges.append("(started_at >= ? and started_at < ?)")
        parameters += [float(hour * HOUR), float((hour + 1) * HOUR)]
    return Split(first, stale, Scope((f"({' or '.join(ranges)})",), tuple(parameters)))


def sums(reader: Reader, window: Split, table: str, keys: Sequence[str], selected: str,
         totals_of: Callable[[Sequence[Any]], dict[str, Any]], listed: str = "''") -> dict[tuple[Any, ...], Summary]:
    """The table's sums over the window's rolled-up hours per distinct keys: selected (SQL over the table's sum
    columns) made a dict by totals_of, and listed's comma-separated values."""
    condition, parameters = window.hours()
    chosen = ", ".join(keys)
    found = {}
    for values in reader.rows(f"select {chosen}, {listed}, {selected} from {table} where {condition} "
                              f"group by {chosen}", parameters):
        named = values[len(keys)]
        found[tuple(values[:len(keys)])] = Summary(totals_of(values[len(keys) + 1:]), {"latency": {}, "ttfb": {}},
                                                   set(str(named).split(",")) if named else set())
    return found


def histograms(reader: Reader, window: Split, table: str, keys: Sequence[str]) -> dict[tuple[Any, ...], Summary]:
    """The table's histograms over the window's rolled-up hours per distinct keys (Summaries without totals)."""
    condition, parameters = window.hours()
    chosen = "".join(f"{key}, " for key in keys)
    found: dict[tuple[Any, ...], dict[str, Histogram]] = defaultdict(lambda: {"latency": {}, "ttfb": {}})
    for values in reader.rows(f"select {chosen}kind, bin, sum(samples), min(smallest) from {table} "
                              f"where {condition} group by {chosen}kind, bin", parameters):
        *group, kind, bucket, count, smallest = values
        found[tuple(group)][HISTOGRAM_NAMES[kind]][bucket] = (count, smallest)
    return {group: Summary({}, histogram) for group, histogram in found.items()}

