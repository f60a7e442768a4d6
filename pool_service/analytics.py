"""The analytics store: every request's outcome in $DARIO_HOME/analytics.db, written by one thread in batches.

The writer also prices each row (pool_service.pricing) and deletes rows past the retention period. It writes with
the standard library's sqlite3: sqlite-utils (and what it imports: click, tabulate, dateutil, pluggy, about 8 MB
of pool_service's resident memory) runs the schema's migrations in a short child process, only when the database
lacks one (pool_service.migrations), so the long-lived pool_service never imports it.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import queue
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from dario.config import Config
from pool_service import rollup_pending, rollup_schema, schema
from pool_service.pricing import Pricing
from pool_service.report_sql import ensure_ln

if TYPE_CHECKING:
    import sqlite_utils

log = logging.getLogger(__name__)

TABLE = schema.TABLE
# The columns a row carries (pool_service.conversions.row_from_outcome builds rows from them). The schema itself
# is pool_service/migrations.py: a new column is a migration there AND an entry here (a test checks they agree).
COLUMNS = {
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
    # Added with pools (migration m003; NULL in older rows).
    "attempts": int,
    "failover": str,
    "fallback_from": str,
    "queued_ms": float,
    "cache_write_tokens": int,
    "cost_usd": float,
    # Issue 16 (migration m004): 1 when the token counts are dario's estimate; what a count_tokens request counted.
    "usage_estimated": int,
    "counted_tokens": int,
    "bytes_sent": int,  # issue 16 (migration m005): body bytes the client received
    # Issue 14: who sent the request (frontend.attribution).
    "client": str,
    "session": str,
    "project": str,
    "tags": str,
}
# A row of the requests table: column → its SQL value (str, int, float or None), as sqlite hands it back.
Row = dict[str, Any]
Batch = tuple[list[Row], Callable[[bool], None]]  # rows, and what to tell once they are committed (or not)
TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens", "cache_write_tokens")
# Outcome fields that older frontends (and older generated stubs) do not have, with their proto defaults
# (pool_service.conversions.row_from_outcome).
OPTIONAL_FIELDS = {"attempts": 0, "failover": "", "fallback_from": "", "queued_ms": 0.0, "cache_write_tokens": -1,
                   "usage_estimated": False, "counted_tokens": 0, "bytes_sent": 0, "client": "", "session": "",
                   "project": "", "tags": ""}
PRUNE_INTERVAL = 3600.0
DAY = 86_400.0
MIGRATE_SECONDS = 900.0  # a migration that fills a new table from millions of rows takes a while


class Forwarding(Protocol):
    """What the writer wakes after a commit when rows go to the outbox (pool_service.analytics_postgres)."""

    def wake(self) -> None: ...


@dataclass(frozen=True)
class Totals:
    requests: int
    input_tokens: int
    output_tokens: int
    errors: int


def open_database(path: pathlib.Path) -> sqlite_utils.Database:
    """Opens (creating if needed) the database in WAL mode, its schema brought up to date by
    pool_service.migrations, as sqlite-utils' Database (for tools and tests; the store uses open_connection)."""
    import sqlite_utils  # noqa: PLC0415 — kept out of pool_service's own imports (module docstring)

    from pool_service import migrations  # noqa: PLC0415 — imports sqlite_utils

    database = sqlite_utils.Database(path)
    database.enable_wal()
    migrations.apply(database)
    path.chmod(0o600)
    return database


def open_connection(path: pathlib.Path) -> sqlite3.Connection:
    """The writer's connection, in WAL mode; a database that lacks a migration (a new one among them) is brought up
    to date first by `python -m pool_service.migrations PATH` in a child process."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    try:
        connection.execute("pragma journal_mode=wal")
        current = schema.up_to_date(connection)
    except BaseException:
        connection.close()
        raise
    if not current:
        connection.close()
        migrate(path)
        connection = sqlite3.connect(path)
    # In WAL mode, NORMAL syncs at checkpoints, not at each commit: a killed process loses nothing (the WAL is in
    # the OS's hands), a power cut may lose the last commits, as the frontend's journal accepts (it never
    # fsyncs either). FULL made each batch's commit an fsync: a third of pool_service's samples at c=1.
    connection.execute("pragma synchronous=normal")
    ensure_ln(connection)  # the rollups' triggers call ln (pool_service.rollup_schema)
    path.chmod(0o600)
    return connection


def migrate(path: pathlib.Path) -> None:
    """Runs the pending migrations of the database at path in a child process; raises RuntimeError if they fail."""
    done = subprocess.run([sys.executable, "-m", "pool_service.migrations", str(path)], capture_output=True,
                          text=True, timeout=MIGRATE_SECONDS, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the analytics database's migrations failed: {done.stderr.strip()[-2000:]}")


def priced(row: Row, pricing: Pricing) -> Row:
    """row with cost_usd estimated from the served model (else the requested one) when it has none yet."""
    if row.get("cost_usd") is not None:
        return row
    model = row.get("served_model") or row.get("model") or ""
    cost = pricing.cost(
        model,
        row.get("input_tokens"),
        row.get("output_tokens"),
        row.get("cache_read_tokens"),
        row.get("cache_write_tokens"),
    )
    return {**row, "cost_usd": cost}


def prune(database: sqlite3.Connection | sqlite_utils.Database, retention_days: float, now: float) -> int:
    """Deletes rows that started more than retention_days before now; returns how many."""
    cutoff = now - retention_days * DAY
    connection = database if isinstance(database, sqlite3.Connection) else database.conn
    with connection:
        cursor = connection.execute(f"delete from {TABLE} where started_at < ?", [cutoff])
        # The hours wholly before the cutoff hold no row any more: nothing of them is stale (rollup_schema).
        connection.execute(f"delete from {rollup_schema.STALE_TABLE} where hour < ?",
                           [int(cutoff) // rollup_schema.HOUR])
    return cursor.rowcount


# Every column a written row may fill, cost_usd (set by priced) among them.
_INSERT = (f"insert or ignore into {TABLE} ({', '.join(COLUMNS)}) "
           f"values ({', '.join('?' for _ in COLUMNS)})")


def _values(rows: list[Row]) -> list[tuple[Any, ...]]:
    return [tuple(row.get(name) for name in COLUMNS) for row in rows]


class AnalyticsStore:
    """Owns the single writer thread; `submit` hands it rows and says (via callback) when they are committed.

    retention_days=None keeps every row; otherwise old rows are deleted at open and then at most hourly.
    outbox: each row's request id also goes into the outbox (schema.OUTBOX_TABLE) in the same transaction, for
    the forwarder to ship to PostgreSQL (pool_service.analytics_postgres); on_written is called after each commit.
    """

    def __init__(
        self,
        path: pathlib.Path,
        pricing: Pricing | None = None,
        retention_days: float | None = None,
        clock: Callable[[], float] = time.time,
        outbox: bool = False,
        on_written: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        self.outbox = outbox
        self.on_written = on_written
        self.pricing = pricing if pricing is not None else Pricing.load()
        self.retention_days = retention_days
        self._clock = clock
        self._next_prune = 0.0
        self._queue: queue.Queue[Batch | None] = queue.Queue()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._write_loop, name="analytics-writer", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    @classmethod
    def from_config(cls, config: Config, forwarder: Forwarding | None = None) -> AnalyticsStore:
        """The store pool_service runs: its path, [analytics] retention_days, and prices with config.toml's
        [pricing] and [aliases]; with a forwarder ([cluster] postgres) rows go to the outbox and wake it."""
        return cls(config.paths.analytics_db, pricing=Pricing.from_config(config),
                   retention_days=config.analytics.retention_days, outbox=forwarder is not None,
                   on_written=forwarder.wake if forwarder is not None else None)

    def submit(self, rows: list[Row], on_done: Callable[[bool], None]) -> None:
        """Queues rows; on_done(True) once committed, on_done(False) if the write failed."""
        self._queue.put((rows, on_done))

    async def write(self, rows: list[Row]) -> None:
        """Hands rows to the writer and waits until they are committed; raises OSError if they could not be."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool] = loop.create_future()

        def on_done(committed: bool) -> None:  # on the writer thread
            loop.call_soon_threadsafe(_resolve, done, committed)

        self.submit(rows, on_done)
        if not await done:
            raise OSError("analytics write failed; see pool_service log")

    def close(self) -> None:
        """Writes everything pending, then stops the writer."""
        self._queue.put(None)
        self._thread.join(30)

    def _write_loop(self) -> None:
        database = open_connection(self.path)
        self._prune_if_due(database)
        self._ready.set()
        stopping = False
        while not stopping:
            try:
                waiting = [self._queue.get(timeout=self._until_prune())]
            except queue.Empty:
                self._prune_if_due(database)
                continue
            while True:  # everything already waiting goes into the same transaction
                try:
                    waiting.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stopping = None in waiting
            batches = [batch for batch in waiting if batch is not None]
            committed = self._insert(database, [row for batch_rows, _ in batches for row in batch_rows])
            for _, on_done in batches:
                on_done(committed)
            if committed and batches and self.on_written is not None:
                self.on_written()
            self._prune_if_due(database)
        database.close()

    def _insert(self, database: sqlite3.Connection, rows: list[Row]) -> bool:
        """INSERT OR IGNORE: an outcome sent again (a requeued batch, the frontend's journal replayed after a kill)
        keeps the row it already has and is never counted twice."""
        if not rows:
            return True
        try:
            with database:
                database.executemany(_INSERT, _values([priced(row, self.pricing) for row in rows]))
                self._to_outbox(database, rows)
                rollup_pending.fold(database)
        except sqlite3.OperationalError:  # the database itself (full disk, I/O): not acknowledged, resent later
            log.exception("could not write %d analytics rows", len(rows))
            return False
        except Exception:  # noqa: BLE001 — any failure must reach the waiting acks, not kill the writer
            log.exception("could not write %d analytics rows; writing them one by one", len(rows))
            return self._insert_each(database, rows)
        return True

    def _insert_each(self, database: sqlite3.Connection, rows: list[Row]) -> bool:
        """Row by row after a batch failed on its data: a bad row is dropped (logged) instead of blocking every
        outcome after it; False when none could be written."""
        written = 0
        for row in rows:
            try:
                with database:
                    database.executemany(_INSERT, _values([priced(row, self.pricing)]))
                    self._to_outbox(database, [row])
                    rollup_pending.fold(database)
            except sqlite3.OperationalError:
                return False
            except Exception as error:  # noqa: BLE001 — the one bad row
                log.warning("dropped the analytics row of request %.64r: %s", row.get("request_id"), error)
                continue
            written += 1
        return written > 0

    def _to_outbox(self, database: sqlite3.Connection, rows: list[Row]) -> None:
        """In the rows' transaction: a row sent again goes out again too (PostgreSQL keeps the first copy)."""
        if self.outbox:
            database.executemany(f"insert or ignore into {schema.OUTBOX_TABLE} (request_id) values (?)",
                                      [(row.get("request_id"),) for row in rows])

    def _until_prune(self) -> float | None:
        if self.retention_days is None:
            return None
        return max(0.0, self._next_prune - self._clock())

    def _prune_if_due(self, database: sqlite3.Connection) -> None:
        now = self._clock()
        if self.retention_days is None or now < self._next_prune:
            return
        self._next_prune = now + PRUNE_INTERVAL
        try:
            deleted = prune(database, self.retention_days, now)
        except Exception:  # noqa: BLE001 — retention is housekeeping; the next run tries again
            log.exception("could not delete analytics rows older than %s days", self.retention_days)
            return
        if deleted:
            log.info("deleted %d analytics rows older than %s days", deleted, self.retention_days)

    def totals(self) -> Totals:
        """Read on a connection of its own (WAL lets readers run beside the writer)."""
        database = sqlite3.connect(self.path)
        try:
            row = database.execute(
                f"select count(*), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), "
                f"coalesce(sum(status >= 400), 0) from {TABLE}"
            ).fetchone()
        finally:
            database.close()
        return Totals(*row)


def _resolve(future: asyncio.Future[bool], committed: bool) -> None:
    if not future.done():
        future.set_result(committed)
