"""The report's groupings by session, project and client, its filters, and that SQLite (not Python) does the work:
only a row per group is read out of the database, however many rows the window holds."""

from __future__ import annotations

import json
import pathlib
import sqlite3

import pytest
import sqlite_utils

from dario.conversions import report_to_json
from dario.v1 import pool_pb2
from pool_service import migrations
from pool_service.analytics import AnalyticsStore
from pool_service.conversions import report_to_proto
from pool_service.reports import report

NOW = 1_800_000_000.0
HOUR = 3600.0


def row(index: int, session: str, project: str, client: str, age: float = 60.0, latency_ms: float = 100.0) -> dict:
    return {"request_id": f"r{index}", "started_at": NOW - age, "api_format": "anthropic", "backend": "b",
            "credential": "c", "model": "claude-sonnet-4-5", "served_model": "", "status": 200 if index % 7 else 500,
            "error_type": "", "latency_ms": latency_ms, "ttfb_ms": latency_ms / 10, "input_tokens": 10,
            "output_tokens": 5, "cache_read_tokens": 20, "reasoning_tokens": None, "stream": 1, "attempts": 1,
            "failover": "", "fallback_from": "", "queued_ms": 0.0, "cache_write_tokens": 0, "client": client,
            "session": session, "project": project, "tags": ""}


ROWS = [row(index, f"s{index % 3}", "shop" if index % 2 else "billing", "claude-code" if index < 20 else "codex",
            latency_ms=float(index + 1)) for index in range(30)]
ROWS.append(row(99, "s0", "shop", "claude-code", age=2 * HOUR))  # before the window: all time only


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("reports-by") / "analytics.db"
    store = AnalyticsStore(path)
    done: list[bool] = []
    store.submit(ROWS, done.append)
    store.close()
    assert done == [True]
    return path


def test_groups_by_session_project_and_client_sum_to_the_window(database: pathlib.Path) -> None:
    built = report(database, NOW, HOUR, by=["session", "project", "client"])
    for name, key in (("by_session", "session"), ("by_project", "project"), ("by_client", "client")):
        assert sum(entry["requests"] for entry in built[name]) == built["window"]["requests"] == 30
        assert sum(entry["input_tokens"] for entry in built[name]) == 300
        assert all(set(entry) >= {key, "requests", "errors", "cost_usd", "latency_p50_ms"} for entry in built[name])
    assert [(entry["client"], entry["requests"]) for entry in built["by_client"]] == [("claude-code", 20),
                                                                                      ("codex", 10)]
    # codex's latencies are 21…30: nearest rank p50 is the 5th, p95 the 10th.
    codex = built["by_client"][1]
    assert (codex["latency_p50_ms"], codex["latency_p95_ms"], codex["ttfb_p50_ms"]) == (25.0, 30.0, 2.5)


def test_only_the_groupings_asked_for_are_there_each_once(database: pathlib.Path) -> None:
    built = report(database, NOW, HOUR, by=["client", "session", "client", "model"])
    assert [name for name in built if name.startswith("by_")] == ["by_backend", "by_credential", "by_model",
                                                                   "by_client", "by_session"]


def test_an_unknown_grouping_or_filter_is_a_value_error_naming_the_choices(database: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="session, project, client"):
        report(database, NOW, HOUR, by=["password"])
    with pytest.raises(ValueError, match="filter"):
        report(database, NOW, HOUR, filters={"status": "200"})


def test_a_filter_narrows_every_part_all_time_included(database: pathlib.Path) -> None:
    built = report(database, NOW, HOUR, by=["session"], filters={"session": "s0"})
    assert built["window"]["requests"] == 10 and built["all_time"]["requests"] == 11
    assert [entry["session"] for entry in built["by_session"]] == ["s0"]
    assert sum(entry["requests"] for entry in built["by_model"]) == 10
    both = report(database, NOW, HOUR, filters={"session": "s0", "client": "codex"})
    assert both["window"]["requests"] == len([index for index in range(20, 30) if index % 3 == 0])
    nothing = report(database, NOW, HOUR, filters={"session": "no such"})
    assert nothing["window"]["requests"] == 0 and nothing["window"]["latency_p50_ms"] is None


def test_the_groupings_cross_the_contract_as_the_same_json(database: pathlib.Path) -> None:
    built = report(database, NOW, HOUR, by=["project", "session", "client"])
    sent = pool_pb2.AnalyticsResponse.FromString(report_to_proto(built).SerializeToString())
    assert json.dumps(report_to_json(sent, ["project", "session", "client"])) == json.dumps(built)


def test_sqlite_hands_python_a_row_per_group_not_a_row_per_request(tmp_path: pathlib.Path) -> None:
    # Latencies 100-149 ms: about 20 histogram buckets 2% wide.
    many = [row(index, f"s{index % 4}", "p", "llm", age=float(index % 3000), latency_ms=100.0 + index % 50)
            for index in range(5000)]
    path = tmp_path / "analytics.db"
    store = AnalyticsStore(path)
    store.submit(many, lambda committed: None)
    store.close()
    fetched = 0

    def counting(cursor: sqlite3.Cursor, values: tuple) -> tuple:
        nonlocal fetched
        fetched += 1
        return values

    connection = sqlite3.connect(path)
    connection.row_factory = counting
    try:
        built = report(connection, NOW, HOUR, by=["session", "project", "client"])
    finally:
        connection.close()
    assert built["window"]["requests"] == 5000
    # 7 groups (1 combination, 4 sessions, 1 project, 1 client) x 2 histograms x ~20 buckets, and the totals.
    assert fetched < 400, fetched


def summed(path: pathlib.Path) -> tuple[dict, dict]:
    """(the running totals the report reads, the same totals summed over every row)."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        running = report(connection, NOW, HOUR)["all_time"]
        connection.execute("begin")
        connection.execute("drop table requests_totals")  # the report falls back to summing the rows
        fresh = report(connection, NOW, HOUR)["all_time"]
        connection.rollback()
    finally:
        connection.close()
    return running, fresh


def test_running_totals_follow_inserts_duplicates_deletes_and_old_rows(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "analytics.db"
    old = sqlite_utils.Database(path)
    migrations.migrations.apply(old, stop_before="m007_running_totals")
    old["requests"].insert_all(ROWS[:5])  # rows from before the running totals
    old.close()
    store = AnalyticsStore(path)
    store.submit(ROWS[5:], lambda committed: None)
    store.submit(ROWS[:8], lambda committed: None)  # sent again: ignored, never counted twice
    store.close()
    running, fresh = summed(path)
    assert running == fresh and running["requests"] == len(ROWS)
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("delete from requests where session = 's1'")
        connection.execute("update requests set input_tokens = 1000 where request_id = 'r0'")
    connection.close()
    running, fresh = summed(path)
    assert running == fresh and running["input_tokens"] == fresh["input_tokens"] > 1000
