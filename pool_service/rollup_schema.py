"""The hourly rollups of the requests table (issue 14; created by migration m009_hourly_rollups): what the report
and the timeline read for the whole hours of a window instead of the rows (pool_service.rollups reads them).

This module is migration m009's definition: never change what it creates (add a migration that alters it).

Every table is WITHOUT ROWID with the hour first in its primary key (`cast(started_at as integer) / 3600`: exact,
so hour H holds exactly the rows with H * 3600 <= started_at < (H + 1) * 3600), so a window's hours are one range
read in key order. Triggers keep them as rows are inserted, as m007 keeps the all-time totals:

- sums (TOTALS' columns: requests, errors, tokens, cost, priced, failovers, fallbacks, estimated) per hour and
  (backend, credential, model, served model, status) in `rollup_requests`: the report's default groupings and the
  timeline's series by backend, model and credential and its errors by status; and per hour and session, project
  or client in one table each (not their cross product: most requests of an hour would each be one cell);
- the report's latency and time-to-first-byte histograms (2%-wide log buckets, `round(ln(v) * 50)`, a count and
  the smallest value, as pool_service.report_groups counts them) per hour and grouping, one table per grouping
  ((backend, credential), model, session, project, client): a cross product of the groupings with the buckets
  would hold a cell per request, and a histogram per (backend, credential, model) would be about that too; the
  window and by_backend are merges of the credentials' histograms;
- the timeline's histograms per hour (its own bins, `cast(ln(v) * 50 as integer)`, counts only).

A delete (retention removes the oldest rows) or an update cannot keep a bucket's smallest value, so it drops the
rollup cells of the row's hour and records the hour in `rollup_stale`: readers take such hours from the rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pool_service.report_groups import BUCKETS_PER_E, ZERO_BUCKET
from pool_service.schema import TABLE, TOTALS

if TYPE_CHECKING:  # the migrations pass one; pool_service never imports sqlite-utils (pool_service.analytics)
    import sqlite_utils

STALE_TABLE = "rollup_stale"
HOUR = 3600
# A row without a start time is rolled up under an hour no window reads (readers only read hours from 1 on).
NO_HOUR = -1_000_000_000
SUMS = TOTALS  # what one row adds to each sum: the all-time totals' columns (m007)
SUM_NAMES = tuple(name for name, _ in SUMS)
# The group keys as SQL over a row ("row."): what the tables are keyed by beside the hour.
KEYS = {
    "backend": "coalesce(row.backend, '')",
    "credential": "coalesce(row.credential, '')",
    "model": "coalesce(row.model, '')",
    "served_model": "coalesce(row.served_model, '')",
    "status": "coalesce(row.status, -1)",
    "session": "coalesce(row.session, '')",
    "project": "coalesce(row.project, '')",
    "client": "coalesce(row.client, '')",
}
# table → its keys, for the sums
SUM_TABLES = {
    "rollup_requests": ("backend", "credential", "model", "served_model", "status"),
    "rollup_sessions": ("session",),
    "rollup_projects": ("project",),
    "rollup_clients": ("client",),
}
# The report's histograms: table → its keys; kind 0 is latency_ms, 1 ttfb_ms.
BIN_TABLES = {
    "rollup_credential_bins": ("backend", "credential"),
    "rollup_model_bins": ("model",),
    "rollup_session_bins": ("session",),
    "rollup_project_bins": ("project",),
    "rollup_client_bins": ("client",),
}
TIMELINE_BINS = "rollup_timeline_bins"
KINDS = ("latency_ms", "ttfb_ms")
# Which values each kind counts, as report_groups' queries read them: every latency, times to first byte > 0.
REPORT_COUNTED = {"latency_ms": "row.latency_ms is not null", "ttfb_ms": "row.ttfb_ms > 0"}
TABLES = (*SUM_TABLES, *BIN_TABLES, TIMELINE_BINS)


def hour_of(row: str) -> str:
    """The SQL of a row's hour (row: "new.", "old." or "")."""
    return f"coalesce(cast({row}started_at as integer) / {HOUR}, {NO_HOUR})"


def report_bin(column: str) -> str:
    """The SQL of report_groups' bucket of a (non-null) value; timeline_bin of timeline's bin of a value > 0
    (its own: truncated, not rounded)."""
    return f"case when {column} > 0 then {_scaled_ln(column, 'round')} else {ZERO_BUCKET} end"


def timeline_bin(column: str) -> str:
    return _scaled_ln(column)


def _scaled_ln(column: str, rounding: str = "") -> str:
    return f"cast({rounding}(ln({column}) * {BUCKETS_PER_E}) as integer)"


def create(database: sqlite_utils.Database) -> None:
    """The tables, filled from the rows already there, and the triggers that keep them."""
    for table, keys in SUM_TABLES.items():
        columns = ", ".join([*(f"{key} {'integer' if key == 'status' else 'text'} not null" for key in keys),
                             *(f"{name} {'real' if name == 'cost_usd' else 'integer'} not null"
                               for name in SUM_NAMES)])
        database.execute(f"create table if not exists {table} (hour integer not null, {columns}, "
                         f"primary key (hour, {', '.join(keys)})) without rowid")
    for table, keys in BIN_TABLES.items():
        columns = "".join(f"{key} text not null, " for key in keys)
        database.execute(f"create table if not exists {table} (hour integer not null, {columns}kind integer not null, "
                         f"bin integer not null, samples integer not null, smallest real not null, "
                         f"primary key (hour, {''.join(f'{key}, ' for key in keys)}kind, bin)) without rowid")
    database.execute(f"create table if not exists {TIMELINE_BINS} (hour integer not null, kind integer not null, "
                     f"bin integer not null, samples integer not null, primary key (hour, kind, bin)) without rowid")
    database.execute(f"create table if not exists {STALE_TABLE} (hour integer primary key)")
    _backfill(database)
    inserted = "; ".join(_added("new."))
    database.execute(f"create trigger if not exists rollup_insert after insert on {TABLE} begin {inserted}; end")
    database.execute(f"create trigger if not exists rollup_delete after delete on {TABLE} begin "
                     f"{'; '.join(_dropped('old.'))}; end")
    database.execute(f"create trigger if not exists rollup_update after update on {TABLE} begin "
                     f"{'; '.join([*_dropped('old.'), *_dropped('new.')])}; end")


def _sql(expression: str, row: str) -> str:
    return expression.replace("row.", row)


def _added(row: str) -> list[str]:
    """The statements adding one row (row: "new.") to every table."""
    statements, hour = [], hour_of(row)
    for table, keys in SUM_TABLES.items():
        names = ", ".join(["hour", *keys, *SUM_NAMES])
        values = ", ".join([hour, *(_sql(KEYS[key], row) for key in keys), *(_sql(sql, row) for _, sql in SUMS)])
        updates = ", ".join(f"{name} = {name} + excluded.{name}" for name in SUM_NAMES)
        statements.append(f"insert into {table} ({names}) values ({values}) "
                          f"on conflict (hour, {', '.join(keys)}) do update set {updates}")
    for table, keys in BIN_TABLES.items():
        for kind, column in enumerate(KINDS):
            value = f"{row}{column}"
            names = ", ".join(["hour", *keys, "kind", "bin", "samples", "smallest"])
            values = ", ".join([hour, *(_sql(KEYS[key], row) for key in keys), str(kind), report_bin(value), "1",
                                value])
            counted = _sql(REPORT_COUNTED[column], row)
            statements.append(f"insert into {table} ({names}) select {values} where {counted} "
                              f"on conflict (hour, {''.join(f'{key}, ' for key in keys)}kind, bin) do update set "
                              f"samples = samples + 1, smallest = min(smallest, excluded.smallest)")
    for kind, column in enumerate(KINDS):
        value = f"{row}{column}"
        statements.append(f"insert into {TIMELINE_BINS} (hour, kind, bin, samples) select {hour}, {kind}, "
                          f"{timeline_bin(value)}, 1 where {value} > 0 "
                          f"on conflict (hour, kind, bin) do update set samples = samples + 1")
    return statements


def _dropped(row: str) -> list[str]:
    """The statements marking a deleted or changed row's hour stale and dropping its cells."""
    hour = hour_of(row)
    return [f"insert or ignore into {STALE_TABLE} (hour) values ({hour})",
            *(f"delete from {table} where hour = {hour}" for table in TABLES)]


def _backfill(database: sqlite_utils.Database) -> None:
    """Every table filled from the rows already there, as the insert trigger would have."""
    for statement in grouped_inserts():
        database.execute(statement)


def grouped_inserts(rows: str = "", added: bool = False) -> list[str]:
    """The statements adding rows to every table, grouped: every row (the backfill), or those `rows` selects (an
    SQL condition on the requests table) added to the cells already there (`added`: pool_service.rollup_pending's
    fold of a batch, as the per-row trigger did one row at a time)."""
    statements, hour = [], hour_of("")
    only = f" and ({rows})" if rows else ""
    for table, keys in SUM_TABLES.items():
        grouped = ", ".join([hour, *(_sql(KEYS[key], "") for key in keys)])
        sums = ", ".join(f"coalesce(sum({_sql(sql, '')}), 0)" for _, sql in SUMS)
        upsert = (f" on conflict (hour, {', '.join(keys)}) do update set "
                  + ", ".join(f"{name} = {name} + excluded.{name}" for name in SUM_NAMES)) if added else ""
        statements.append(f"insert into {table} (hour, {', '.join(keys)}, {', '.join(SUM_NAMES)}) "
                          f"select {grouped}, {sums} from {TABLE} where true{only} group by {grouped}{upsert}")
    for table, keys in BIN_TABLES.items():
        for kind, column in enumerate(KINDS):
            grouped = ", ".join([hour, *(_sql(KEYS[key], "") for key in keys)])
            upsert = (f" on conflict (hour, {''.join(f'{key}, ' for key in keys)}kind, bin) do update set "
                      "samples = samples + excluded.samples, smallest = min(smallest, excluded.smallest)") \
                if added else ""
            statements.append(f"insert into {table} (hour, {''.join(f'{key}, ' for key in keys)}kind, bin, samples, "
                              f"smallest) select {grouped}, {kind}, {report_bin(column)}, count(*), min({column}) "
                              f"from {TABLE} where {_sql(REPORT_COUNTED[column], '')}{only} "
                              f"group by {grouped}, {report_bin(column)}{upsert}")
    for kind, column in enumerate(KINDS):
        upsert = " on conflict (hour, kind, bin) do update set samples = samples + excluded.samples" if added else ""
        statements.append(f"insert into {TIMELINE_BINS} (hour, kind, bin, samples) select {hour}, {kind}, "
                          f"{timeline_bin(column)}, count(*) from {TABLE} where {column} > 0{only} "
                          f"group by {hour}, {timeline_bin(column)}{upsert}")
    return statements
