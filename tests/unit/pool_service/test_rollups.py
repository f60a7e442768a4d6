"""The hourly rollups (migration m009, pool_service.rollups): on the same random rows, a report or timeline read
from the rollups' whole hours plus the rows of the window's ragged edges equals the one read from every row,
percentiles included, per grouping; an old database is backfilled once; deletes make their hour stale."""

from __future__ import annotations

import pathlib
import random
import shutil
import sqlite3
from typing import Any

import pytest
import sqlite_utils

from pool_service import migrations, rollup_pending, rollup_schema, rollups
from pool_service.analytics import COLUMNS, TABLE, open_database, prune
from pool_service.report_groups import Scope
from pool_service.report_sql import SqliteReader, ensure_ln
from pool_service.reports import report
from pool_service.timeline import KEYS, timeline

HOUR = 3600.0
NOW = 1_800_003_917.25  # 3917.25 s past an hour boundary: every window's edges are ragged
ROLLUP = "m009_hourly_rollups"
PER_BATCH = "m010_rollups_per_batch"
BY = ("session", "project", "client")
WINDOWS = (600.0, HOUR, 5 * HOUR + 17.5, 86_400.0, 2 * 86_400.0 + 123.4, 7 * 86_400.0)


def random_rows(count: int, seed: int, prefix: str) -> list[dict[str, Any]]:
    chooser = random.Random(seed)

    def maybe(value: Any, share: float = 0.1) -> Any:
        return None if chooser.random() < share else value

    rows = []
    for index in range(count):
        hour = chooser.randrange(-180, 4)
        offset = chooser.choice([0.0, HOUR - 1e-6, chooser.random() * HOUR]) if chooser.random() < 0.1 else \
            chooser.random() * HOUR
        latency = chooser.choice([0.0, -1.0, 0.5, *[chooser.lognormvariate(6, 1.2)] * 8])
        session = chooser.randrange(12)
        rows.append({
            "request_id": f"{prefix}{index}", "started_at": (1_800_000_000 // 3600 + hour) * HOUR + offset,
            "api_format": "openai", "backend": maybe(chooser.choice(["pool", "solo", "claude"]), 0.03),
            "credential": maybe(chooser.choice(["alpha", "beta"]), 0.03),
            "model": maybe(chooser.choice(["gpt-4o", "claude-haiku-4-5", "local,7", "<script>"]), 0.03),
            "served_model": chooser.choice(["", "", None, "gpt-4o-2024", "a,b"]),
            "status": maybe(chooser.choice([200, 200, 200, 429, 500, 401]), 0.02),
            "error_type": "", "latency_ms": maybe(latency, 0.05),
            "ttfb_ms": maybe(chooser.choice([0.0, latency / 7, chooser.random() * 300]), 0.05),
            "input_tokens": maybe(chooser.randrange(5000)), "output_tokens": maybe(chooser.randrange(900)),
            "cache_read_tokens": maybe(chooser.randrange(3000)), "reasoning_tokens": maybe(chooser.randrange(50), 0.7),
            "stream": 1, "attempts": 1, "failover": chooser.choice(["", "", None, "alpha"]),
            "fallback_from": chooser.choice(["", None, "gpt-4o"]), "queued_ms": 0.0,
            "cache_write_tokens": maybe(chooser.randrange(500)), "cost_usd": maybe(chooser.random() / 100, 0.15),
            "usage_estimated": maybe(chooser.choice([0, 1])), "counted_tokens": None, "bytes_sent": 10,
            "client": maybe(["claude-code", "codex", "aider"][session % 3], 0.05),
            "session": maybe(f"session-{session}", 0.05), "project": maybe(f"project-{session % 4}", 0.05),
            "tags": "",
        })
    return rows


def insert(path: pathlib.Path, rows: list[dict[str, Any]], fold: bool = True) -> None:
    """Rows written as the analytics writer writes a batch: inserted, then folded into the rollups in the same
    transaction (m010); `fold=False`: as another program would write them."""
    connection = sqlite3.connect(path)
    ensure_ln(connection)
    with connection:
        connection.executemany(f"insert or ignore into {TABLE} ({', '.join(COLUMNS)}) values "
                               f"({', '.join('?' * len(COLUMNS))})", ([row.get(name) for name in COLUMNS]
                                                                      for row in rows))
        if fold and rollup_pending.PENDING_TABLE in tables(connection):
            rollup_pending.fold(connection)
    connection.close()


def tables(connection: sqlite3.Connection) -> set[str]:
    return {name for name, in connection.execute("select name from sqlite_master where type = 'table'")}


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """An old database (every migration before m009) with rows, migrated (m009's backfill, m010), then more rows
    (folded per batch, as the analytics writer does)."""
    path = tmp_path_factory.mktemp("rollups") / "analytics.db"
    old = sqlite_utils.Database(path)
    for migration in migrations.migrations.pending(old):
        if migration.name not in (ROLLUP, PER_BATCH):
            migration.fn(old)
    old.close()
    insert(path, random_rows(2500, 1, "old-"))
    open_database(path).close()
    insert(path, random_rows(2500, 2, "new-") + random_rows(50, 1, "old-"))  # the old ones are ignored
    return path


def rollup_contents(path: pathlib.Path) -> dict[str, list[tuple[Any, ...]]]:
    connection = sqlite3.connect(path)
    try:
        return {table: sorted(connection.execute(f"select * from {table}")) for table in rollup_schema.TABLES}
    finally:
        connection.close()


def assert_equal_to_a_backfill(database: pathlib.Path, scratch: pathlib.Path) -> None:
    """The rollups of `database` are what m009's backfill makes of the same rows (costs up to their order)."""
    kept = rollup_contents(database)
    assert all(kept.values()) and len(kept["rollup_requests"]) > 100
    rebuilt = scratch / "rebuilt.db"
    shutil.copy(database, rebuilt)
    connection = sqlite_utils.Database(rebuilt)
    for table in rollup_schema.TABLES:
        connection.execute(f"delete from {table}")
    rollup_schema._backfill(connection)
    connection.conn.commit()
    connection.close()
    backfilled = rollup_contents(rebuilt)
    for table in rollup_schema.TABLES:
        assert len(backfilled[table]) == len(kept[table]), table
        if table not in rollup_schema.SUM_TABLES:
            assert backfilled[table] == kept[table], table
            continue
        cost = 1 + len(rollup_schema.SUM_TABLES[table]) + rollup_schema.SUM_NAMES.index("cost_usd")
        for summed, added in zip(backfilled[table], kept[table], strict=True):  # costs added in another order
            assert summed[:cost] + summed[cost + 1:] == added[:cost] + added[cost + 1:], table
            assert summed[cost] == pytest.approx(added[cost], rel=1e-12, abs=1e-15), table


def pending(database: pathlib.Path) -> int:
    connection = sqlite3.connect(database)
    try:
        return int(connection.execute(f"select count(*) from {rollup_pending.PENDING_TABLE}").fetchone()[0])
    finally:
        connection.close()


def test_the_rollups_kept_per_batch_equal_a_backfill_of_the_same_rows(database: pathlib.Path,
                                                                     tmp_path: pathlib.Path) -> None:
    assert pending(database) == 0
    assert_equal_to_a_backfill(database, tmp_path)


def test_m010_leaves_a_trigger_that_only_notes_new_rows(database: pathlib.Path) -> None:
    connection = sqlite3.connect(database)
    triggers = {name for name, in connection.execute("select name from sqlite_master where type = 'trigger'")}
    connection.close()
    assert "rollup_insert" not in triggers and "rollup_pending_insert" in triggers
    assert {"rollup_delete", "rollup_update"} <= triggers  # deletes and updates still make their hour stale


def test_rows_written_outside_the_writer_are_read_from_the_rows_until_the_next_batch_folds_them(
        database: pathlib.Path, tmp_path: pathlib.Path) -> None:
    outside = tmp_path / "outside.db"
    shutil.copy(database, outside)
    before = rollup_contents(outside)
    insert(outside, random_rows(400, 4, "outside-"), fold=False)  # as another program would write them
    assert pending(outside) == 400 and rollup_contents(outside) == before  # not in the rollups yet
    for window in (6 * HOUR, 86_400.0, 7 * 86_400.0):
        assert report(outside, NOW, window, by=BY) == report(outside, NOW, window, by=BY, hourly=False)
        assert timeline(outside, NOW, window, 3600, "backend") == timeline(outside, NOW, window, 3600, "backend",
                                                                           hourly=False)
    with_them = report(outside, NOW, 7 * 86_400, by=BY)
    assert with_them["window"]["requests"] == report(database, NOW, 7 * 86_400)["window"]["requests"] + sum(
        1 for row in random_rows(400, 4, "outside-") if row["started_at"] >= NOW - 7 * 86_400)  # (no upper bound)
    insert(outside, random_rows(20, 5, "next-"))  # the writer's next batch folds them too
    assert pending(outside) == 0
    assert_equal_to_a_backfill(outside, tmp_path)
    assert report(outside, NOW, 86_400, by=BY) == report(outside, NOW, 86_400, by=BY, hourly=False)


def test_a_pending_row_deleted_before_its_fold_adds_nothing(database: pathlib.Path, tmp_path: pathlib.Path) -> None:
    gone = tmp_path / "gone.db"
    shutil.copy(database, gone)
    insert(gone, random_rows(60, 6, "short-lived-"), fold=False)
    connection = sqlite3.connect(gone)
    with connection:
        connection.execute(f"delete from {TABLE} where request_id like 'short-lived-%' and started_at > ?",
                           [NOW - 40 * HOUR])
    connection.close()
    insert(gone, random_rows(20, 7, "after-"))
    assert pending(gone) == 0
    for window in (6 * HOUR, 2 * 86_400.0, 7 * 86_400.0):
        assert report(gone, NOW, window, by=BY) == report(gone, NOW, window, by=BY, hourly=False)
        assert timeline(gone, NOW, window, 3600, "model") == timeline(gone, NOW, window, 3600, "model", hourly=False)


@pytest.mark.parametrize("window", WINDOWS)
def test_a_report_from_the_rollups_equals_the_one_from_the_rows(database: pathlib.Path, window: float) -> None:
    cut = rollups.split(SqliteReader(sqlite3.connect(database)), NOW - window, Scope())
    assert cut is not None
    edge = sqlite3.connect(database).execute(f"select count(*) from {TABLE}{cut.raw.where()}", cut.raw.parameters)
    assert edge.fetchone()[0] > 0  # the rows of the ragged edge are part of it
    hourly = report(database, NOW, window, by=BY)
    rows = report(database, NOW, window, by=BY, hourly=False)
    assert hourly == rows
    assert hourly["window"]["requests"] > 0 and hourly["window"]["latency_p95_ms"] is not None
    for by in ([], ["session"], ["client", "project"]):
        assert report(database, NOW, window, by=by) == report(database, NOW, window, by=by, hourly=False)


def test_the_rollups_are_what_the_report_reads(database: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """The comparison above is not between two reads of the rows: a changed rollup changes the report."""
    changed = tmp_path / "changed.db"
    shutil.copy(database, changed)
    connection = sqlite3.connect(changed)
    with connection:
        connection.execute("update rollup_requests set input_tokens = input_tokens + 1")
        connection.execute("update rollup_session_bins set smallest = smallest / 2")
        connection.execute("update rollup_projects set output_tokens = output_tokens + 1")
    connection.close()
    hourly, rows = report(changed, NOW, 86_400, by=["session"]), report(changed, NOW, 86_400, by=["session"],
                                                                         hourly=False)
    assert hourly["window"]["input_tokens"] > rows["window"]["input_tokens"]
    assert [entry["latency_p50_ms"] for entry in hourly["by_session"]] != \
        [entry["latency_p50_ms"] for entry in rows["by_session"]]
    assert timeline(changed, NOW, 86_400, 3600, "project") != timeline(changed, NOW, 86_400, 3600, "project",
                                                                         hourly=False)
    assert timeline(changed, NOW, 86_400, 3600, "backend") != timeline(changed, NOW, 86_400, 3600, "backend",
                                                                         hourly=False)
    # a filtered report reads the rows
    filtered = report(changed, NOW, 86_400, filters={"client": "codex"})
    assert filtered == report(changed, NOW, 86_400, filters={"client": "codex"}, hourly=False)


@pytest.mark.parametrize("by", list(KEYS))
@pytest.mark.parametrize(("window", "bucket"), [(86_400.0, 3600.0), (7 * 86_400.0, 3600.0), (3 * 86_400, 7200.0),
                                                (86_400.0, 900.0)])
def test_a_timeline_from_the_rollups_equals_the_one_from_the_rows(database: pathlib.Path, by: str, window: float,
                                                                  bucket: float) -> None:
    hourly = timeline(database, NOW, window, bucket, by)
    assert hourly == timeline(database, NOW, window, bucket, by, hourly=False)
    assert sum(sum(series["requests"]) for series in hourly["series"]) > 0 and hourly["errors"]


def test_a_delete_makes_its_hour_stale_and_reports_still_equal_the_rows(database: pathlib.Path,
                                                                        tmp_path: pathlib.Path) -> None:
    pruned = tmp_path / "pruned.db"
    shutil.copy(database, pruned)
    cut = (NOW // HOUR - 30) * HOUR + 1234.5  # in the middle of an hour
    connection = sqlite3.connect(pruned)
    with connection:
        deleted = connection.execute(f"delete from {TABLE} where started_at < ?", [cut]).rowcount
        connection.execute(f"delete from {TABLE} where request_id in (select request_id from {TABLE} "
                           "where started_at > ? limit 3)", [NOW - 5 * HOUR])
    stale = [hour for hour, in connection.execute(f"select hour from {rollup_schema.STALE_TABLE}")]
    connection.close()
    assert deleted > 100 and int(cut // HOUR) in stale and len(stale) > 30
    insert(pruned, random_rows(300, 3, "late-"))  # late rows, stale hours among them
    for window in (40 * HOUR + 5, 6 * HOUR, 2 * 86_400.0):
        assert report(pruned, NOW, window, by=BY) == report(pruned, NOW, window, by=BY, hourly=False)
        assert timeline(pruned, NOW, window, 3600, "model") == timeline(pruned, NOW, window, 3600, "model",
                                                                        hourly=False)


def test_retention_forgets_the_stale_marks_of_hours_it_emptied(database: pathlib.Path, tmp_path: pathlib.Path) -> None:
    pruned = tmp_path / "retention.db"
    shutil.copy(database, pruned)
    connection = sqlite3.connect(pruned)
    cutoff = NOW - 3 * 86_400 - 1000.0  # mid-hour
    assert prune(connection, 3, NOW - 1000.0) > 100
    stale = [hour for hour, in connection.execute(f"select hour from {rollup_schema.STALE_TABLE}")]
    assert stale == [int(cutoff) // 3600]  # only the hour cut in two: the emptied ones hold nothing to read
    connection.close()
    for window in (3 * 86_400.0, 5 * 86_400.0):
        assert report(pruned, NOW, window, by=BY) == report(pruned, NOW, window, by=BY, hourly=False)
