"""The analytics report's SQL runs on SQLite (each host's analytics.db) and on PostgreSQL (the cluster's table,
pool_service.analytics_postgres): it is written once, in the SQL both engines share, and what differs (the table,
placeholders, listing distinct values, the running totals SQLite keeps) is a Reader's.

Shared SQL used by the report: `case when … then 1 else 0 end` for a count of rows matching a condition (SQLite
could sum a comparison, PostgreSQL cannot), sums cast to bigint (PostgreSQL sums bigints as numeric), `coalesce`,
`ln`, `round`, `cast(… as integer)` and `?` placeholders (a PostgreSQL reader turns them into `%s`).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, Protocol


def count_if(condition: str) -> str:
    """The number of rows for which condition holds (0 when there are none)."""
    return f"coalesce(sum(case when {condition} then 1 else 0 end), 0)"


def summed(column: str) -> str:
    """The sum of an integer column as an integer (0 when there are none)."""
    return f"cast(coalesce(sum({column}), 0) as bigint)"


def summed_real(column: str) -> str:
    """The sum of a real column as a real (0.0 when there are none)."""
    return f"coalesce(sum({column}), 0.0)"


class Reader(Protocol):
    """A read-only view of one engine's requests table."""

    table: str  # the requests table
    instances: bool  # its rows say which instance recorded them (an instance column)

    def rows(self, sql: str, parameters: Sequence[object] = ()) -> Iterable[Sequence[Any]]: ...

    def one(self, sql: str, parameters: Sequence[object] = ()) -> Sequence[Any] | None: ...

    def has_table(self, table: str) -> bool: ...

    def listed(self, expression: str) -> str:
        """An aggregate giving the distinct non-null values of expression, comma-separated."""
        ...

    def keeps_totals(self) -> bool:
        """Whether the engine keeps the all-time totals in pool_service.schema's TOTALS_TABLE."""
        ...


class SqliteReader:
    """The host's analytics.db."""

    instances = False

    def __init__(self, connection: sqlite3.Connection, table: str = "requests") -> None:
        self.connection, self.table = connection, table
        ensure_ln(connection)

    def rows(self, sql: str, parameters: Sequence[object] = ()) -> Iterable[Sequence[Any]]:
        return self.connection.execute(sql, parameters)

    def one(self, sql: str, parameters: Sequence[object] = ()) -> Sequence[Any] | None:
        row: Sequence[Any] | None = self.connection.execute(sql, parameters).fetchone()
        return row

    def has_table(self, table: str) -> bool:
        query = "select 1 from sqlite_master where type = 'table' and name = ?"
        return self.connection.execute(query, [table]).fetchone() is not None

    def listed(self, expression: str) -> str:
        return f"group_concat(distinct {expression})"

    def keeps_totals(self) -> bool:
        from pool_service.schema import TOTALS_TABLE

        return self.has_table(TOTALS_TABLE)


def ensure_ln(connection: sqlite3.Connection) -> None:
    """SQLite builds without math functions get `ln` from Python (slower, same buckets)."""
    try:
        connection.execute("select ln(1)").fetchone()
    except sqlite3.OperationalError:
        connection.create_function("ln", 1, _ln, deterministic=True)


def _ln(value: float | None) -> float | None:
    return math.log(value) if value is not None and value > 0 else None
