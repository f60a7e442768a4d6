"""The analytics database's schema, as an ordered list of migrations (sqlite-utils' `Migrations`).

`apply` runs the ones a database has not had yet, each in its own transaction together with its record in the
`_sqlite_migrations` table, so a new database gets every one, an old one only those it lacks, and a second run
is a no-op.

To add a column (or an index, or a table): append ONE new function at the end of this module, decorated with
`@migrations()`, named `mNNN_what_it_does` with the next number, e.g.

    @migrations()
    def m004_time_to_last_token(database: sqlite_utils.Database) -> None:
        add_columns(database, {"ttlt_ms": float})

then set `LATEST` in pool_service/schema.py to its name (pool_service runs the migrations, in a child process, only
when a database lacks LATEST; a test checks it names the last one) and add the column to `COLUMNS` in
pool_service/analytics.py (rows are built from it; a test checks that a
migrated database has exactly `COLUMNS`). Never edit or reorder a migration that has shipped: databases already
record it as applied by its name. `add_columns` skips columns a table already has, because databases from before
migrations (which added columns on open) may hold some of them without any record.
"""

from __future__ import annotations

import sys

import sqlite_utils

from pool_service import rollup_pending, rollup_schema
from pool_service.report_sql import ensure_ln
from pool_service.schema import LATEST, MIGRATION_SET, OUTBOX_TABLE, TABLE, TOTALS, TOTALS_TABLE

__all__ = ["LATEST", "OUTBOX_TABLE", "TABLE", "TOTALS", "TOTALS_TABLE", "add_columns", "apply", "migrations"]

migrations = sqlite_utils.Migrations(MIGRATION_SET)


def add_columns(database: sqlite_utils.Database, columns: dict[str, type], table: str = TABLE) -> None:
    """Adds each column the table lacks (NULL in the rows it already has)."""
    present = database.table(table).columns_dict
    for name, kind in columns.items():
        if name not in present:
            database.table(table).add_column(name, kind)


@migrations()
def m001_requests(database: sqlite_utils.Database) -> None:
    """The table as it was first released: one row per request."""
    database.table(TABLE).create(
        {
            "request_id": str,
            "started_at": float,
            "api_format": str,
            "backend": str,
            "credential": str,
            "model": str,
            "served_model": str,
            "status": int,
            "error_type": str,
            "latency_ms": float,
            "ttfb_ms": float,
            "input_tokens": int,
            "output_tokens": int,
            "cache_read_tokens": int,
            "reasoning_tokens": int,
            "stream": int,
        },
        pk="request_id",
        if_not_exists=True,
    )


@migrations()
def m002_indexes(database: sqlite_utils.Database) -> None:
    """The report filters on time and groups by backend."""
    database.table(TABLE).create_index(["started_at"], if_not_exists=True)
    database.table(TABLE).create_index(["backend"], if_not_exists=True)


@migrations()
def m003_pool_columns(database: sqlite_utils.Database) -> None:
    """Added with pools: failover and fallback, queue wait, cache writes, the estimated cost."""
    add_columns(
        database,
        {
            "attempts": int,
            "failover": str,
            "fallback_from": str,
            "queued_ms": float,
            "cache_write_tokens": int,
            "cost_usd": float,
        },
    )


@migrations()
def m004_usage_estimated(database: sqlite_utils.Database) -> None:
    """Issue 16: whether the token counts are dario's estimate, and what a count_tokens request counted."""
    add_columns(database, {"usage_estimated": int, "counted_tokens": int})


@migrations()
def m005_bytes_sent(database: sqlite_utils.Database) -> None:
    """Issue 16: the body bytes the client received (a stream cut or failed after its first byte says how far)."""
    add_columns(database, {"bytes_sent": int})


@migrations()
def m006_attribution(database: sqlite_utils.Database) -> None:
    """Issue 14: who sent each request (frontend.attribution), with an index on each column the report groups or
    filters by (old rows have NULL: no client, session or project known)."""
    add_columns(database, {"client": str, "session": str, "project": str, "tags": str})
    for column in ("session", "project", "client"):
        database.table(TABLE).create_index([column], if_not_exists=True)


@migrations()
def m007_running_totals(database: sqlite_utils.Database) -> None:
    """Issue 14: the all-time totals in a one-row table that triggers keep as rows are inserted, deleted (retention)
    or updated, filled from the rows already there."""
    columns = ", ".join(f"{name} {'real' if name == 'cost_usd' else 'integer'} not null default 0"
                        for name, _ in TOTALS)
    database.execute(f"create table if not exists {TOTALS_TABLE} (id integer primary key check (id = 1), {columns})")
    sums = ", ".join(f"coalesce(sum({added.replace('row.', '')}), 0)" for _, added in TOTALS)
    names = ", ".join(name for name, _ in TOTALS)
    database.execute(f"insert or replace into {TOTALS_TABLE} (id, {names}) select 1, {sums} from {TABLE}")

    def change(sign: str, row: str) -> str:
        return ", ".join(f"{name} = {name} {sign} {added.replace('row.', row + '.')}" for name, added in TOTALS)

    database.execute(f"create trigger if not exists {TOTALS_TABLE}_insert after insert on {TABLE} begin "
                     f"update {TOTALS_TABLE} set {change('+', 'new')} where id = 1; end")
    database.execute(f"create trigger if not exists {TOTALS_TABLE}_delete after delete on {TABLE} begin "
                     f"update {TOTALS_TABLE} set {change('-', 'old')} where id = 1; end")
    database.execute(f"create trigger if not exists {TOTALS_TABLE}_update after update on {TABLE} begin "
                     f"update {TOTALS_TABLE} set {change('-', 'old')} where id = 1; "
                     f"update {TOTALS_TABLE} set {change('+', 'new')} where id = 1; end")


@migrations()
def m008_outbox(database: sqlite_utils.Database) -> None:
    """Issue 15: the request ids written while [cluster] postgres is set and not yet in PostgreSQL, oldest first
    (pool_service.analytics_postgres deletes each once PostgreSQL committed it). Empty without a cluster."""
    database.execute(f"create table if not exists {OUTBOX_TABLE} (request_id text primary key)")


@migrations()
def m009_hourly_rollups(database: sqlite_utils.Database) -> None:
    """Issue 14: hourly rollups of the requests (sums and latency histograms per hour and grouping, kept by
    triggers, filled once from the rows already there), so a report or timeline over days reads a cell per hour and
    group instead of every row. pool_service.rollup_schema has the tables, the triggers and why they are shaped so
    (a histogram table per grouping, not their cross product with the buckets: that would hold about a cell per
    request)."""
    rollup_schema.create(database)


@migrations()
def m010_rollups_per_batch(database: sqlite_utils.Database) -> None:
    """Issue 13: the rollups kept once per batch by the analytics writer instead of by a trigger per row (16
    upserts a row); rows written outside the writer wait in rollup_pending and readers take their hours from the
    rows until then (pool_service.rollup_pending)."""
    rollup_pending.create(database)


def apply(database: sqlite_utils.Database) -> None:
    """Brings the database's schema up to date (see the module docstring). The rollups' triggers call `ln`, so an
    SQLite without math functions gets it from Python on this connection first (pool_service.report_sql)."""
    ensure_ln(database.conn)
    migrations.apply(database)


def main(argv: list[str]) -> int:
    """`python -m pool_service.migrations PATH`: brings the database at PATH up to date (WAL mode), as
    pool_service's analytics store asks when the database lacks a migration."""
    if len(argv) != 1:
        print("usage: python -m pool_service.migrations PATH", file=sys.stderr)
        return 2
    database = sqlite_utils.Database(argv[0])
    try:
        database.enable_wal()
        apply(database)
    finally:
        database.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
