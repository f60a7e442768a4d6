"""Read-only access to the analytics database for the dashboard's queries (issue 14): its own connection (WAL
lets readers run beside the one writer), nothing when there is no database or table yet."""

from __future__ import annotations

import os
import pathlib
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

Database = str | os.PathLike[str] | sqlite3.Connection


@contextmanager
def reading(database: Database, table: str = "requests") -> Iterator[sqlite3.Connection | None]:
    """A connection to read from (None when there is no database or table yet); closes only what it opened."""
    if isinstance(database, sqlite3.Connection):
        yield database if has_table(database, table) else None
        return
    path = pathlib.Path(database)
    if not path.exists():
        yield None
        return
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        yield connection if has_table(connection, table) else None
    finally:
        connection.close()


def has_table(connection: sqlite3.Connection, table: str) -> bool:
    query = "select 1 from sqlite_master where type = 'table' and name = ?"
    return connection.execute(query, [table]).fetchone() is not None


def columns(connection: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in connection.execute(f"pragma table_info({table})")}


def has_columns(connection: sqlite3.Connection, table: str, names: Iterable[str]) -> bool:
    return set(names) <= columns(connection, table)
