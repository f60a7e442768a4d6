"""The analytics store: every request's outcome in $DARIO_HOME/analytics.db, written by one thread in batches."""

from __future__ import annotations

import asyncio
import logging
import pathlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils

log = logging.getLogger(__name__)

TABLE = "requests"
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
}
TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens")


@dataclass(frozen=True)
class Totals:
    requests: int
    input_tokens: int
    output_tokens: int
    errors: int


def open_database(path: pathlib.Path) -> sqlite_utils.Database:
    """Opens (creating if needed) the database with its schema, in WAL mode."""
    database = sqlite_utils.Database(path)
    database.enable_wal()
    table = database[TABLE]
    if not table.exists():
        table.create(COLUMNS, pk="request_id")
    table.create_index(["started_at"], if_not_exists=True)
    table.create_index(["backend"], if_not_exists=True)
    path.chmod(0o600)
    return database


def row_from_outcome(outcome: object) -> dict:
    """A database row from a pool_pb2.Outcome; -1 token counts (not reported) become NULL."""
    row = {name: getattr(outcome, name) for name in COLUMNS}
    row["stream"] = int(bool(row["stream"]))
    for name in TOKEN_COLUMNS:
        if row[name] < 0:
            row[name] = None
    return row


class AnalyticsStore:
    """Owns the single writer thread; `submit` hands it rows and says (via callback) when they are committed."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self._queue: queue.Queue[tuple[list[dict], Callable[[bool], None]] | None] = queue.Queue()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._write_loop, name="analytics-writer", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def submit(self, rows: list[dict], on_done: Callable[[bool], None]) -> None:
        """Queues rows; on_done(True) once committed, on_done(False) if the write failed."""
        self._queue.put((rows, on_done))

    async def write(self, rows: list[dict]) -> None:
        """Hands rows to the writer and waits until they are committed; raises OSError if they could not be."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self.submit(rows, lambda committed: loop.call_soon_threadsafe(_resolve, done, committed))
        if not await done:
            raise OSError("analytics write failed; see pool_service log")

    def close(self) -> None:
        """Writes everything pending, then stops the writer."""
        self._queue.put(None)
        self._thread.join(30)

    def _write_loop(self) -> None:
        database = open_database(self.path)
        self._ready.set()
        stopping = False
        while not stopping:
            batches = [self._queue.get()]
            while True:  # everything already waiting goes into the same transaction
                try:
                    batches.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if None in batches:
                stopping = True
                batches = [batch for batch in batches if batch is not None]
            rows = [row for batch_rows, _ in batches for row in batch_rows]
            committed = True
            if rows:
                try:
                    with database.conn:
                        database[TABLE].insert_all(rows, replace=True, batch_size=500)
                except Exception:  # noqa: BLE001 — any failure must reach the waiting acks, not kill the writer
                    log.exception("could not write %d analytics rows", len(rows))
                    committed = False
            for _, on_done in batches:
                on_done(committed)
        database.close()

    def totals(self) -> Totals:
        """Read on a connection of its own (WAL lets readers run beside the writer)."""
        database = sqlite_utils.Database(self.path)
        try:
            row = database.execute(
                f"select count(*), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), "
                f"coalesce(sum(status >= 400), 0) from {TABLE}"
            ).fetchone()
        finally:
            database.close()
        return Totals(*row)


def _resolve(future: asyncio.Future, committed: bool) -> None:
    if not future.done():
        future.set_result(committed)
