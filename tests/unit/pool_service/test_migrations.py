"""The analytics schema through migrations: a new database gets every one, an old one keeps its rows and gains
the columns, a database from before migrations (columns added on open) is adopted, a second run changes
nothing."""

from __future__ import annotations

import pathlib
import sqlite3
import subprocess
import sys

import sqlite_utils

from pool_service import migrations
from pool_service import schema as schema_names
from pool_service.analytics import COLUMNS, TABLE, open_database

ORIGINAL_COLUMNS = {
    "request_id": str, "started_at": float, "api_format": str, "backend": str, "credential": str, "model": str,
    "served_model": str, "status": int, "error_type": str, "latency_ms": float, "ttfb_ms": float,
    "input_tokens": int, "output_tokens": int, "cache_read_tokens": int, "reasoning_tokens": int, "stream": int,
}
ALL_MIGRATIONS = [migration.name for migration in migrations.migrations.pending(sqlite_utils.Database(memory=True))]


def schema(database: sqlite_utils.Database) -> str:
    return "\n".join(row[0] for row in database.execute(
        "select sql from sqlite_master where sql is not null and name not like 'sqlite_%' order by name"))


def applied(database: sqlite_utils.Database) -> list[str]:
    return [migration.name for migration in migrations.migrations.applied(database)]


def test_a_new_database_gets_every_migration_and_exactly_the_columns_rows_carry(tmp_path: pathlib.Path) -> None:
    database = open_database(tmp_path / "analytics.db")
    assert set(database.table(TABLE).columns_dict) == set(COLUMNS)
    assert database.table(TABLE).pks == ["request_id"]
    assert {tuple(index.columns) for index in database.table(TABLE).indexes} >= {("started_at",), ("backend",)}
    assert applied(database) == ALL_MIGRATIONS
    assert ALL_MIGRATIONS[0] == "m001_requests" and len(ALL_MIGRATIONS) >= 3
    database.close()


def test_an_old_database_is_migrated_and_keeps_its_rows(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "analytics.db"
    old = sqlite_utils.Database(path)
    old.table(TABLE).create(ORIGINAL_COLUMNS, pk="request_id")
    old.table(TABLE).insert_all([
        {"request_id": "r1", "started_at": 1.0, "backend": "b", "status": 200, "input_tokens": 7, "stream": 1},
        {"request_id": "r2", "started_at": 2.0, "backend": "b", "status": 529, "error_type": "overloaded_error"},
    ])
    old.close()
    database = open_database(path)
    assert set(database.table(TABLE).columns_dict) == set(COLUMNS)
    rows = {row["request_id"]: row for row in database.table(TABLE).rows}
    assert rows["r1"]["input_tokens"] == 7 and rows["r1"]["stream"] == 1 and rows["r1"]["cost_usd"] is None
    assert rows["r2"]["error_type"] == "overloaded_error" and rows["r2"]["attempts"] is None
    assert applied(database) == ALL_MIGRATIONS
    database.close()


def test_a_database_from_before_migrations_with_every_column_is_adopted(tmp_path: pathlib.Path) -> None:
    """The schema open_database made before migrations existed: all columns, indexes, no record of any."""
    path = tmp_path / "analytics.db"
    old = sqlite_utils.Database(path)
    old.table(TABLE).create(COLUMNS, pk="request_id")
    old.table(TABLE).create_index(["started_at"])
    old.table(TABLE).insert({"request_id": "r1", "started_at": 1.0, "attempts": 2, "cost_usd": 0.5})
    old.close()
    database = open_database(path)
    assert set(database.table(TABLE).columns_dict) == set(COLUMNS)
    assert [(row["attempts"], row["cost_usd"]) for row in database.table(TABLE).rows] == [(2, 0.5)]
    assert applied(database) == ALL_MIGRATIONS
    database.close()


def test_running_the_migrations_twice_changes_nothing(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "analytics.db"
    first = open_database(path)
    first.table(TABLE).insert({"request_id": "r1", "started_at": 1.0})
    before = (schema(first), [(m.name, m.applied_at) for m in migrations.migrations.applied(first)])
    first.close()
    second = open_database(path)
    assert migrations.migrations.pending(second) == []
    assert (schema(second), [(m.name, m.applied_at) for m in migrations.migrations.applied(second)]) == before
    assert [row["request_id"] for row in second.table(TABLE).rows] == ["r1"]
    second.close()


def test_add_columns_adds_only_what_is_missing(tmp_path: pathlib.Path) -> None:
    database = sqlite_utils.Database(tmp_path / "x.db")
    database.table(TABLE).create({"request_id": str, "attempts": int}, pk="request_id")
    migrations.add_columns(database, {"attempts": int, "queued_ms": float})
    assert database.table(TABLE).columns_dict == {"request_id": str, "attempts": int, "queued_ms": float}
    database.close()


def test_latest_names_the_last_migration_and_tells_a_database_that_lacks_it(tmp_path: pathlib.Path) -> None:
    """pool_service runs the migrations only when a database lacks schema.LATEST: it must be the last one."""
    assert schema_names.LATEST == ALL_MIGRATIONS[-1]
    path = tmp_path / "analytics.db"
    old = sqlite_utils.Database(path)
    migrations.migrations.apply(old, stop_before=ALL_MIGRATIONS[-1])
    assert not schema_names.up_to_date(old.conn)
    migrations.apply(old)
    assert schema_names.up_to_date(old.conn)
    old.close()
    with sqlite3.connect(tmp_path / "new.db") as new:
        assert not schema_names.up_to_date(new)


def test_the_command_migrates_the_database_it_is_given(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "analytics.db"
    done = subprocess.run([sys.executable, "-m", "pool_service.migrations", str(path)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    database = sqlite_utils.Database(path)
    assert applied(database) == ALL_MIGRATIONS
    assert database.execute("pragma journal_mode").fetchone()[0] == "wal"
    database.close()
    usage = subprocess.run([sys.executable, "-m", "pool_service.migrations"], capture_output=True, text=True,
                           timeout=60, check=False)
    assert usage.returncode == 2 and "usage" in usage.stderr
