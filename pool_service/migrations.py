"""The analytics database's schema, as an ordered list of migrations (sqlite-utils' `Migrations`).

`apply` runs the ones a database has not had yet, each in its own transaction together with its record in the
`_sqlite_migrations` table, so a new database gets every one, an old one only those it lacks, and a second run
is a no-op.

To add a column (or an index, or a table): append ONE new function at the end of this module, decorated with
`@migrations()`, named `mNNN_what_it_does` with the next number, e.g.

    @migrations()
    def m004_time_to_last_token(database: sqlite_utils.Database) -> None:
        add_columns(database, {"ttlt_ms": float})

then add the column to `COLUMNS` in pool_service/analytics.py (rows are built from it; a test checks that a
migrated database has exactly `COLUMNS`). Never edit or reorder a migration that has shipped: databases already
record it as applied by its name. `add_columns` skips columns a table already has, because databases from before
migrations (which added columns on open) may hold some of them without any record.
"""

from __future__ import annotations

import sqlite_utils

TABLE = "requests"
migrations = sqlite_utils.Migrations("dario-analytics")


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


def apply(database: sqlite_utils.Database) -> None:
    """Brings the database's schema up to date (see the module docstring)."""
    migrations.apply(database)
