"""CPU per analytics row written, with the hourly rollups kept per row (m009's trigger) or per batch (m010).

    .venv/bin/python -m bench.rollup_writes [--rows 20000] [--batches 2,50]

Writes the same rows, as one load sends them (one hour, one backend, model and session), into two fresh
databases in a temporary folder, in batches as pool_service's writer commits them, and prints the process CPU
per row for each schema and batch size. Bounded: --rows rows per database, nothing else runs.
"""

from __future__ import annotations

import argparse
import pathlib
import sqlite3
import tempfile
import time

import sqlite_utils

from pool_service import migrations, rollup_pending
from pool_service.analytics import COLUMNS, TABLE
from pool_service.report_sql import ensure_ln

PER_BATCH = "m010_rollups_per_batch"


def rows(count: int) -> list[tuple[object, ...]]:
    made = []
    for index in range(count):
        row = {"request_id": f"bench-{index}", "started_at": 1_800_000_000 + index * 0.01, "api_format": "openai",
               "backend": "chat", "credential": "default", "model": "gpt-4o", "served_model": "gpt-4o",
               "status": 200, "error_type": "", "latency_ms": 20.0 + index % 97, "ttfb_ms": 5.0 + index % 13,
               "input_tokens": 100 + index % 50, "output_tokens": 20 + index % 30, "stream": index % 2,
               "attempts": 1, "queued_ms": 0.0, "cost_usd": 0.0001, "bytes_sent": 300, "client": "claude-code",
               "session": "session-1", "project": "project-1", "tags": ""}
        made.append(tuple(row.get(name) for name in COLUMNS))
    return made


def database(path: pathlib.Path, per_batch: bool) -> sqlite3.Connection:
    schema = sqlite_utils.Database(path)
    schema.enable_wal()
    ensure_ln(schema.conn)
    for migration in migrations.migrations.pending(schema):
        if migration.name != PER_BATCH or per_batch:
            migration.fn(schema)
    schema.close()
    connection = sqlite3.connect(path)
    ensure_ln(connection)
    connection.execute("pragma synchronous=normal")  # as pool_service's writer
    return connection


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batches", default="2,50")
    arguments = parser.parse_args()
    written = rows(arguments.rows)
    insert = f"insert or ignore into {TABLE} ({', '.join(COLUMNS)}) values ({', '.join('?' * len(COLUMNS))})"
    for per_batch in (False, True):
        for size in (int(part) for part in arguments.batches.split(",")):
            with tempfile.TemporaryDirectory(prefix="dario-rollups-") as scratch:
                connection = database(pathlib.Path(scratch) / "analytics.db", per_batch)
                started = time.process_time()
                for first in range(0, len(written), size):
                    with connection:
                        connection.executemany(insert, written[first:first + size])
                        if per_batch:
                            rollup_pending.fold(connection)
                cpu = time.process_time() - started
                connection.close()
            kept = "per batch (m010)" if per_batch else "per row (m009)  "
            print(f"rollups kept {kept}, batches of {size:3}: {cpu / len(written) * 1e6:6.1f} µs of CPU a row")


if __name__ == "__main__":
    main()
