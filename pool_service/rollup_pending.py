"""The hourly rollups kept per batch instead of per row (migration m010; the rollups themselves: m009,
pool_service.rollup_schema).

m009's insert trigger ran about sixteen upserts for every row written: 62% of pool_service's CPU under load
(py-spy, issue 13). m010 replaces it with a trigger that only notes the new row's rowid in `rollup_pending`;
the analytics writer then folds the pending rows into every rollup table in the same transaction as its batch,
one grouped upsert per table (`fold`), the same sums, counts and smallest values the per-row trigger made.

Rows written by anyone else (a tool, a test, an older binary) wait in `rollup_pending` until the writer's next
batch; until then readers take their hours from the rows, as they take stale ones (`unrolled_hours`). The delete
and update triggers of m009 stay: a deleted row that was still pending simply adds nothing when folded.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from pool_service.rollup_schema import STALE_TABLE, grouped_inserts, hour_of
from pool_service.schema import TABLE

if TYPE_CHECKING:  # the migration passes one; pool_service never imports sqlite-utils (pool_service.analytics)
    import sqlite_utils

PENDING_TABLE = "rollup_pending"
_PENDING_ROWS = f"rowid in (select row from {PENDING_TABLE})"
FOLD = (*grouped_inserts(_PENDING_ROWS, added=True), f"delete from {PENDING_TABLE}")
# The hours readers must take from the rows: those a delete made stale, and those of rows not yet folded.
UNROLLED_HOURS = (f"select hour from {STALE_TABLE} union "
                  f"select {hour_of('')} from {TABLE} where {_PENDING_ROWS}")


def create(database: sqlite_utils.Database) -> None:
    """m010: the pending table and its trigger instead of m009's per-row insert trigger (the rollups already
    equal the rows, so nothing is pending at first)."""
    database.execute(f"create table if not exists {PENDING_TABLE} (row integer primary key)")
    database.execute("drop trigger if exists rollup_insert")
    database.execute(f"create trigger if not exists rollup_pending_insert after insert on {TABLE} begin "
                     f"insert or ignore into {PENDING_TABLE} (row) values (new.rowid); end")


def fold(connection: sqlite3.Connection) -> None:
    """Adds the pending rows to every rollup table and forgets them; inside the caller's transaction."""
    if connection.execute(f"select 1 from {PENDING_TABLE} limit 1").fetchone() is None:
        return
    for statement in FOLD:
        connection.execute(statement)
