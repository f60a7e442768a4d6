"""Analytics in the cluster's PostgreSQL ([cluster] postgres, issue 15 item 5): every host's outcomes in one table.

pool_service still writes each outcome to its own SQLite first (pool_service.analytics, with the request id in
the outbox table in the same transaction): that is the queue, so an outcome is acknowledged to the frontend
without waiting for PostgreSQL and nothing is lost while PostgreSQL is away. The Forwarder, a thread of its own,
ships the outbox's rows in batches (INSERT … ON CONFLICT DO NOTHING on the request id, so a batch shipped twice
counts once) with this host's instance name, then deletes them from the outbox. PostgreSQL unreachable: logged
once, on_health(False), retried with backoff; on_health(True) and everything queued shipped when it answers.

The bound: the outbox holds only rows still in the SQLite table, which [analytics] retention_days prunes; a row
pruned before it could be shipped is dropped from the outbox (logged with a count). Without retention_days the
local disk is the bound.

The PostgreSQL schema is MIGRATIONS (recorded in dario_analytics_migrations, each version in its own transaction
under an advisory lock), in the first schema of the connection's search_path.
"""

from __future__ import annotations

import contextlib
import logging
import pathlib
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import psycopg

from pool_service.analytics import COLUMNS
from pool_service.schema import OUTBOX_TABLE
from pool_service.schema import TABLE as SQLITE_TABLE

log = logging.getLogger(__name__)

TABLE = "dario_analytics_requests"
MIGRATIONS_TABLE = "dario_analytics_migrations"
MIGRATION_LOCK = 0x6461_7269_6f61  # pg_advisory_xact_lock key: one host migrates at a time
BATCH = 500
_TYPES = {str: "text", int: "bigint", float: "double precision"}


def _columns_sql() -> str:
    typed = [f"{name} {_TYPES[kind]}{' PRIMARY KEY' if name == 'request_id' else ''}"
             for name, kind in COLUMNS.items()]
    return ",\n            ".join(["instance text NOT NULL", *typed])


# Never edit or reorder a version that has shipped; a new column is a new version here and an entry in COLUMNS
# (a test checks that a migrated schema has exactly COLUMNS plus instance).
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, f"""
        CREATE TABLE {TABLE} (
            {_columns_sql()}
        );
        CREATE INDEX {TABLE}_started_at ON {TABLE} (started_at);
        CREATE INDEX {TABLE}_instance ON {TABLE} (instance, started_at);
        CREATE INDEX {TABLE}_backend ON {TABLE} (backend);
        CREATE INDEX {TABLE}_session ON {TABLE} (session);
        CREATE INDEX {TABLE}_project ON {TABLE} (project);
        CREATE INDEX {TABLE}_client ON {TABLE} (client);
    """),
)

Row = tuple[Any, ...]


def connect(url: str, timeout: float = 5.0) -> psycopg.Connection[Row]:
    """An autocommit connection (transactions are explicit) that notices a dead peer within about half a minute."""
    return psycopg.connect(url, connect_timeout=max(1, round(timeout)), autocommit=True, keepalives=1,
                           keepalives_idle=10, keepalives_interval=5, keepalives_count=3)


def migrate(connection: psycopg.Connection[Row]) -> list[int]:
    """Applies the versions not yet recorded, each in its own transaction; returns those applied."""
    applied: list[int] = []
    for version, statements in MIGRATIONS:
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            connection.execute(f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} ("
                               "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
            found = connection.execute(f"SELECT 1 FROM {MIGRATIONS_TABLE} WHERE version = %s", (version,)).fetchone()
            if found is not None:
                continue
            connection.execute(statements.encode())  # several statements: sent as one simple query
            connection.execute(f"INSERT INTO {MIGRATIONS_TABLE} (version) VALUES (%s)", (version,))
            applied.append(version)
    return applied


_NAMES = list(COLUMNS)
_INSERT = (f"INSERT INTO {TABLE} (instance, {', '.join(_NAMES)}) VALUES (%s{', %s' * len(_NAMES)}) "
           "ON CONFLICT (request_id) DO NOTHING")
_PENDING = (f"SELECT o.request_id, r.request_id IS NOT NULL, {', '.join(f'r.{name}' for name in _NAMES)} "
            f"FROM {OUTBOX_TABLE} o LEFT JOIN {SQLITE_TABLE} r ON r.request_id = o.request_id "
            "ORDER BY o.rowid LIMIT ?")


class Forwarder:
    """Ships the outbox of the SQLite database at path to PostgreSQL at url, as instance; see the module docstring.

    wake() (the writer's on_written) says rows are waiting; close() stops after the batch in flight (what is left
    stays in the outbox for the next start). on_health(bool) is called from the forwarder's thread when
    PostgreSQL becomes unreachable (False) or answers again (True, also once at the first success).
    """

    def __init__(self, path: pathlib.Path, url: str, instance: str,
                 on_health: Callable[[bool], None] | None = None, batch: int = BATCH,
                 retry_seconds: float = 0.25, retry_max_seconds: float = 30.0, idle_seconds: float = 5.0) -> None:
        self.path, self.url, self.instance = path, url, instance
        self.on_health = on_health
        self.batch = batch
        self.retry_seconds, self.retry_max_seconds, self.idle_seconds = retry_seconds, retry_max_seconds, idle_seconds
        self.healthy: bool | None = None  # None until the first attempt
        self.shipped = 0  # rows PostgreSQL committed (new or already there) since start
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._connection: psycopg.Connection[Row] | None = None
        self._migrated = False
        self._thread = threading.Thread(target=self._loop, name="analytics-forwarder", daemon=True)

    def __repr__(self) -> str:
        return f"Forwarder({self.path}, <url hidden>, {self.instance!r})"

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(30)

    def pending(self) -> int:
        """The rows waiting in the outbox."""
        with sqlite3.connect(self.path, timeout=30) as database:
            return int(database.execute(f"select count(*) from {OUTBOX_TABLE}").fetchone()[0])

    def _loop(self) -> None:
        database = sqlite3.connect(self.path, timeout=30)
        delay = self.retry_seconds
        try:
            while not self._stop.is_set():
                self._wake.clear()
                try:
                    moved = self._ship(database)
                except psycopg.Error as error:
                    self._unreachable(error)
                    self._stop.wait(delay)
                    delay = min(delay * 2, self.retry_max_seconds)
                    continue
                except sqlite3.Error:  # the local database busy or failing: the rows stay queued, tried again
                    log.exception("could not read or update the analytics outbox")
                    self._stop.wait(delay)
                    delay = min(delay * 2, self.retry_max_seconds)
                    continue
                delay = self.retry_seconds
                self._reachable()
                if moved < self.batch:  # the outbox is empty: wait for the writer (or check now and then)
                    self._wake.wait(self.idle_seconds)
        finally:
            database.close()
            if self._connection is not None:
                self._connection.close()

    def _postgres(self) -> psycopg.Connection[Row]:
        if self._connection is None or self._connection.closed or self._connection.broken:
            if self._connection is not None:
                self._connection.close()
            self._connection = connect(self.url)
        if not self._migrated:
            applied = migrate(self._connection)
            if applied:
                log.info("analytics tables in PostgreSQL migrated to version %d", applied[-1])
            self._migrated = True
        return self._connection

    def _ship(self, database: sqlite3.Connection) -> int:
        """One batch from the outbox to PostgreSQL, then out of the outbox; returns how many entries it moved."""
        pending = database.execute(_PENDING, (self.batch,)).fetchall()
        if not pending:  # nothing to ship: still find out (and say) whether PostgreSQL answers
            self._postgres().execute("SELECT 1")
            return 0
        rows = [(self.instance, *entry[2:]) for entry in pending if entry[1]]
        pruned = len(pending) - len(rows)
        if rows:
            connection = self._postgres()
            try:
                with connection.transaction(), connection.cursor() as cursor:
                    cursor.executemany(_INSERT, rows)
            except (psycopg.DataError, psycopg.IntegrityError):
                self._ship_each(connection, rows)
        with database:
            database.executemany(f"delete from {OUTBOX_TABLE} where request_id = ?",
                                 [(entry[0],) for entry in pending])
        if pruned:
            log.warning("%d analytics rows were deleted by retention before PostgreSQL took them", pruned)
        self.shipped += len(rows)
        return len(pending)

    def _ship_each(self, connection: psycopg.Connection[Row], rows: list[Row]) -> None:
        """Row by row after a batch failed on its data: a row PostgreSQL refuses is dropped (logged) instead of
        holding back every row after it. Connection errors still propagate (the batch is shipped again)."""
        for row in rows:
            try:
                with connection.transaction():
                    connection.execute(_INSERT, row)
            except (psycopg.DataError, psycopg.IntegrityError) as error:
                log.warning("PostgreSQL refused the analytics row of request %.64r: %s", row[1],
                            type(error).__name__)

    def _unreachable(self, error: psycopg.Error) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self.healthy is not False:
            log.warning("PostgreSQL for analytics does not answer (%s); outcomes wait in %s and are shipped when "
                        "it does", type(error).__name__, self.path.name)
            self._changed(False)

    def _reachable(self) -> None:
        if self.healthy is not True:
            if self.healthy is False:
                log.info("PostgreSQL for analytics answers again; shipping the queued outcomes")
            self._changed(True)

    def _changed(self, healthy: bool) -> None:
        self.healthy = healthy
        if self.on_health is not None:
            try:
                self.on_health(healthy)
            except Exception:  # noqa: BLE001 — reporting health must not stop the shipping
                log.exception("could not report the analytics health")


class PostgresReader:
    """The cluster's table for pool_service.reports (a pool_service.report_sql.Reader): `?` placeholders become
    `%s`, distinct values are listed by string_agg, and the all-time totals are summed (PostgreSQL keeps no
    running totals)."""

    table = TABLE
    instances = True

    def __init__(self, connection: psycopg.Connection[Row]) -> None:
        self.connection = connection

    def rows(self, sql: str, parameters: Sequence[object] = ()) -> Iterable[Sequence[Any]]:
        return self.connection.execute(_placeheld(sql), parameters).fetchall()

    def one(self, sql: str, parameters: Sequence[object] = ()) -> Sequence[Any] | None:
        return self.connection.execute(_placeheld(sql), parameters).fetchone()

    def has_table(self, table: str) -> bool:
        return self.one("SELECT to_regclass(?) IS NOT NULL", (table,)) == (True,)

    def listed(self, expression: str) -> str:
        return f"string_agg(distinct {expression}, ',')"

    def keeps_totals(self) -> bool:
        return False


def _placeheld(sql: str) -> str:
    """The report's `?` placeholders as psycopg's (the report's SQL holds no `?` or `%` of its own)."""
    if "%" in sql:
        raise ValueError("a report query for PostgreSQL must not contain %")
    return sql.replace("?", "%s")


class ReportUnavailable(OSError):
    """The cluster's PostgreSQL did not answer a report (the message names the error type, never the URL)."""


@contextlib.contextmanager
def reading(url: str, timeout: float = 5.0) -> Iterator[PostgresReader]:
    """A PostgresReader on a connection of its own, in one read-only transaction (one snapshot for every part of
    the report), closed at the end."""
    try:
        connection = connect(url, timeout)
    except psycopg.Error as error:
        raise ReportUnavailable(f"PostgreSQL for analytics does not answer ({type(error).__name__})") from None
    try:
        with connection.transaction():
            connection.execute("SET TRANSACTION READ ONLY ISOLATION LEVEL REPEATABLE READ")
            yield PostgresReader(connection)
    except psycopg.Error as error:
        raise ReportUnavailable(f"PostgreSQL for analytics failed ({type(error).__name__})") from None
    finally:
        connection.close()
