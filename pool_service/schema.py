"""The analytics database's names and what pool_service checks of its schema without sqlite-utils.

The schema itself is made by pool_service/migrations.py (sqlite-utils' migrations, run in a child process by the
analytics store: pool_service.analytics). Reports, the PostgreSQL forwarder and the store import the names from
here, so the long-lived pool_service never imports sqlite-utils.
"""

from __future__ import annotations

import sqlite3

TABLE = "requests"
MIGRATION_SET = "dario-analytics"
MIGRATIONS_TABLE = "_sqlite_migrations"  # sqlite-utils' record of the migrations applied
# The last migration of pool_service/migrations.py: a database that records it has them all (they run in order).
LATEST = "m010_rollups_per_batch"

# Issue 14: the all-time totals, kept by triggers as rows come and go, so a report never sums every row for them.
TOTALS_TABLE = "requests_totals"
# (column, what one row adds: an SQL expression over NEW or OLD, written with "row.")
TOTALS = (
    ("requests", "1"),
    ("errors", "coalesce(row.status >= 400, 0)"),
    ("input_tokens", "coalesce(row.input_tokens, 0)"),
    ("output_tokens", "coalesce(row.output_tokens, 0)"),
    ("cache_read_tokens", "coalesce(row.cache_read_tokens, 0)"),
    ("cache_write_tokens", "coalesce(row.cache_write_tokens, 0)"),
    ("reasoning_tokens", "coalesce(row.reasoning_tokens, 0)"),
    ("cost_usd", "coalesce(row.cost_usd, 0.0)"),
    ("priced_requests", "(row.cost_usd is not null)"),
    ("failovers", "(coalesce(row.failover, '') != '')"),
    ("fallbacks", "(coalesce(row.fallback_from, '') != '')"),
    ("estimated_requests", "coalesce(row.usage_estimated, 0)"),
)


# Issue 15: the rows a forwarder has still to ship to the cluster's PostgreSQL ([cluster] postgres).
OUTBOX_TABLE = "requests_outbox"


def up_to_date(connection: sqlite3.Connection) -> bool:
    """Whether the database records LATEST as applied (False for a new or older one)."""
    try:
        found = connection.execute(f"select 1 from {MIGRATIONS_TABLE} where migration_set = ? and name = ?",
                                   (MIGRATION_SET, LATEST)).fetchone()
    except sqlite3.OperationalError:  # no such table: a new database, or one from before migrations
        return False
    return found is not None
