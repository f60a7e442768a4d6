"""The analytics store: schema and its migration, one writer, -1 → NULL, resends replace, totals, close flushes,
cost priced at write time, retention."""

from __future__ import annotations

import asyncio
import pathlib
import sqlite3
import subprocess
import sys
from types import SimpleNamespace

import pytest
import sqlite_utils

from dario.config import Paths, parse_config
from dario.v1 import pool_pb2
from pool_service.analytics import COLUMNS, DAY, AnalyticsStore, open_database, prune
from pool_service.conversions import row_from_outcome
from pool_service.pricing import Pricing


def outcome(request_id: str, status: int = 200, tokens: int = 10) -> pool_pb2.Outcome:
    return pool_pb2.Outcome(request_id=request_id, backend="b", credential="c", model="m", status=status,
                            input_tokens=tokens, output_tokens=-1, cache_read_tokens=-1, reasoning_tokens=-1,
                            stream=True, latency_ms=5.0)


def rows(path: pathlib.Path) -> list[sqlite3.Row]:
    connection = sqlite3.connect(path)
    connection.row_factory = sqlite3.Row
    try:
        return connection.execute("select * from requests order by request_id").fetchall()
    finally:
        connection.close()


async def test_written_rows_are_committed_when_write_returns(tmp_path: pathlib.Path) -> None:
    store = AnalyticsStore(tmp_path / "analytics.db")
    await store.write([row_from_outcome(outcome("r1")), row_from_outcome(outcome("r2", status=500))])
    found = rows(tmp_path / "analytics.db")
    assert [row["request_id"] for row in found] == ["r1", "r2"]
    assert found[0]["output_tokens"] is None and found[0]["input_tokens"] == 10 and found[0]["stream"] == 1
    totals = store.totals()
    assert (totals.requests, totals.input_tokens, totals.output_tokens, totals.errors) == (2, 20, 0, 1)
    store.close()
    assert (tmp_path / "analytics.db").stat().st_mode & 0o777 == 0o600


async def test_a_resent_request_id_keeps_its_first_row_and_counts_once(tmp_path: pathlib.Path) -> None:
    """A requeued batch or a journal replay sends an outcome again: INSERT OR IGNORE keeps the row it has."""
    store = AnalyticsStore(tmp_path / "analytics.db")
    await store.write([row_from_outcome(outcome("same", tokens=1))])
    await store.write([row_from_outcome(outcome("same", tokens=2)), row_from_outcome(outcome("other", tokens=3))])
    await store.write([row_from_outcome(outcome("same", tokens=4)), row_from_outcome(outcome("same", tokens=5))])
    totals = store.totals()
    store.close()
    found = {row["request_id"]: row for row in rows(tmp_path / "analytics.db")}
    assert len(found) == 2 and found["same"]["input_tokens"] == 1
    assert (totals.requests, totals.input_tokens) == (2, 4)


async def test_a_row_sqlite_cannot_store_is_dropped_and_the_rest_of_its_batch_is_written(
    tmp_path: pathlib.Path
) -> None:
    store = AnalyticsStore(tmp_path / "analytics.db")
    bad = {**row_from_outcome(outcome("bad", tokens=1)), "input_tokens": 2**70}  # past SQLite's 64-bit integers
    before, after = row_from_outcome(outcome("before", tokens=1)), row_from_outcome(outcome("after", tokens=2))
    await store.write([before, bad, after])
    await store.write([row_from_outcome(outcome("next", tokens=3))])
    store.close()
    assert {row["request_id"] for row in rows(tmp_path / "analytics.db")} == {"before", "after", "next"}


async def test_concurrent_writers_are_serialized_and_grouped(tmp_path: pathlib.Path) -> None:
    store = AnalyticsStore(tmp_path / "analytics.db")
    await asyncio.gather(*(store.write([row_from_outcome(outcome(f"r{i:03}"))]) for i in range(200)))
    store.close()
    assert len(rows(tmp_path / "analytics.db")) == 200


def test_close_flushes_what_was_submitted(tmp_path: pathlib.Path) -> None:
    store = AnalyticsStore(tmp_path / "analytics.db")
    acknowledged: list[bool] = []
    for index in range(50):
        store.submit([row_from_outcome(outcome(f"q{index:02}"))], acknowledged.append)
    store.close()
    assert acknowledged == [True] * 50
    assert len(rows(tmp_path / "analytics.db")) == 50


def test_reopening_keeps_the_schema_and_rows(tmp_path: pathlib.Path) -> None:
    first = AnalyticsStore(tmp_path / "analytics.db")
    first.submit([row_from_outcome(outcome("kept"))], lambda committed: None)
    first.close()
    second = AnalyticsStore(tmp_path / "analytics.db")
    assert second.totals().requests == 1
    second.close()


OLD_COLUMNS = {
    "request_id": str, "started_at": float, "api_format": str, "backend": str, "credential": str, "model": str,
    "served_model": str, "status": int, "error_type": str, "latency_ms": float, "ttfb_ms": float,
    "input_tokens": int, "output_tokens": int, "cache_read_tokens": int, "reasoning_tokens": int, "stream": int,
}
NOW = 1_800_000_000.0


def full_outcome(request_id: str, started_at: float = NOW, **fields: object) -> SimpleNamespace:
    """An outcome with the pool fields (attempts, failover, …), as the frontend sends them once it has them."""
    values = {"request_id": request_id, "started_at": started_at, "api_format": pool_pb2.API_FORMAT_ANTHROPIC,
              "backend": "b",
              "credential": "c", "model": "sonnet", "served_model": "claude-sonnet-4-5-20250929", "status": 200,
              "error_type": "", "latency_ms": 5.0, "ttfb_ms": 1.0, "input_tokens": 1000, "output_tokens": 500,
              "cache_read_tokens": 2000, "reasoning_tokens": -1, "stream": True, "acquired": True,
              "attempts": 2, "failover": "c0", "fallback_from": "", "queued_ms": 12.5, "cache_write_tokens": 400,
              "rate_limit_headers": {}}
    return SimpleNamespace(**{**values, **fields})


def test_row_from_outcome_fills_the_pool_fields() -> None:
    row = row_from_outcome(full_outcome("r1", fallback_from="other"))
    assert (row["attempts"], row["failover"], row["fallback_from"], row["queued_ms"], row["cache_write_tokens"]) \
        == (2, "c0", "other", 12.5, 400)
    assert row_from_outcome(full_outcome("r2", cache_write_tokens=-1))["cache_write_tokens"] is None
    assert "rate_limit_headers" not in row and "acquired" not in row


def test_an_outcome_without_the_pool_fields_still_makes_a_row() -> None:
    row = row_from_outcome(outcome("r1"))
    assert row["failover"] == "" and row["fallback_from"] == "" and row["attempts"] == 0


async def test_a_database_from_before_pools_is_migrated_in_place(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "analytics.db"
    old = sqlite_utils.Database(path)
    old["requests"].create(OLD_COLUMNS, pk="request_id")
    old["requests"].insert({"request_id": "old", "started_at": NOW - 60, "backend": "b", "credential": "c",
                            "model": "m", "status": 200, "input_tokens": 7, "output_tokens": 3, "stream": 0})
    old.close()
    store = AnalyticsStore(path, clock=lambda: NOW)
    await store.write([row_from_outcome(full_outcome("new"))])
    store.close()
    columns = {column.name for column in sqlite_utils.Database(path)["requests"].columns}
    assert columns == set(COLUMNS)
    found = {row["request_id"]: row for row in rows(path)}
    assert found["old"]["input_tokens"] == 7 and found["old"]["attempts"] is None and found["old"]["cost_usd"] is None
    assert (found["new"]["attempts"], found["new"]["failover"], found["new"]["queued_ms"]) == (2, "c0", 12.5)
    assert found["new"]["cache_write_tokens"] == 400
    assert found["new"]["cost_usd"] == pytest.approx((1000 * 3 + 500 * 15 + 2000 * 0.30 + 400 * 3.75) / 1e6)
    indexes = {tuple(index.columns) for index in sqlite_utils.Database(path)["requests"].indexes}
    assert ("started_at",) in indexes


async def test_cost_is_priced_at_write_time_from_the_served_model_else_the_requested_one(
        tmp_path: pathlib.Path) -> None:
    pricing = Pricing.load({"house-model": {"input": 1.0, "output": 2.0}})
    store = AnalyticsStore(tmp_path / "analytics.db", pricing=pricing)
    await store.write([
        row_from_outcome(full_outcome("served", model="alias", served_model="house-model", cache_read_tokens=-1,
                                      cache_write_tokens=-1)),
        row_from_outcome(full_outcome("requested", model="house-model", served_model="", cache_read_tokens=-1,
                                      cache_write_tokens=-1)),
        row_from_outcome(full_outcome("unknown", model="mystery", served_model="")),
        row_from_outcome(full_outcome("no-usage", input_tokens=-1, output_tokens=-1)),
    ])
    store.close()
    cost = {row["request_id"]: row["cost_usd"] for row in rows(tmp_path / "analytics.db")}
    assert cost["served"] == pytest.approx((1000 * 1.0 + 500 * 2.0) / 1e6)
    assert cost["requested"] == pytest.approx((1000 * 1.0 + 500 * 2.0) / 1e6)
    assert cost["unknown"] is None and cost["no-usage"] is None


def seed(path: pathlib.Path, *ages_in_days: float) -> None:
    database = open_database(path)
    database["requests"].insert_all(
        [{"request_id": f"aged-{age}", "started_at": NOW - age * DAY, "status": 200} for age in ages_in_days])
    database.close()


def test_retention_deletes_old_rows_when_the_store_opens(tmp_path: pathlib.Path) -> None:
    seed(tmp_path / "analytics.db", 0.5, 6.9, 7.1, 400)
    store = AnalyticsStore(tmp_path / "analytics.db", retention_days=7, clock=lambda: NOW)
    assert [row["request_id"] for row in rows(tmp_path / "analytics.db")] == ["aged-0.5", "aged-6.9"]
    store.close()


def test_without_retention_every_row_is_kept(tmp_path: pathlib.Path) -> None:
    seed(tmp_path / "analytics.db", 0.5, 400)
    AnalyticsStore(tmp_path / "analytics.db", clock=lambda: NOW).close()
    assert len(rows(tmp_path / "analytics.db")) == 2


async def test_retention_runs_again_at_most_once_an_hour(tmp_path: pathlib.Path) -> None:
    clock = [NOW]
    store = AnalyticsStore(tmp_path / "analytics.db", retention_days=1, clock=lambda: clock[0])
    await store.write([row_from_outcome(full_outcome("expiring", started_at=NOW - DAY + 10))])
    clock[0] = NOW + 1800  # the row is now past retention, but the last deletion was half an hour ago
    await store.write([row_from_outcome(full_outcome("half-hour", started_at=clock[0]))])
    await store.write([])  # deletion follows the acknowledgement; the writer's next batch comes after it
    assert {row["request_id"] for row in rows(tmp_path / "analytics.db")} == {"expiring", "half-hour"}
    clock[0] = NOW + 3601
    await store.write([row_from_outcome(full_outcome("hour", started_at=clock[0]))])
    await store.write([])
    assert {row["request_id"] for row in rows(tmp_path / "analytics.db")} == {"half-hour", "hour"}
    store.close()


def test_prune_deletes_exactly_the_rows_past_retention(tmp_path: pathlib.Path) -> None:
    seed(tmp_path / "analytics.db", 1, 2.5, 3)
    database = open_database(tmp_path / "analytics.db")
    assert prune(database, 2, NOW) == 2
    database.close()
    assert [row["request_id"] for row in rows(tmp_path / "analytics.db")] == ["aged-1"]


def test_the_store_takes_retention_and_pricing_overrides_from_the_config(tmp_path: pathlib.Path) -> None:
    config = parse_config('[analytics]\nretention_days = 30\n\n[pricing."house-model"]\ninput = 1.0\noutput = 2.0\n',
                          paths=Paths(tmp_path))
    store = AnalyticsStore.from_config(config)
    try:
        assert store.path == tmp_path / "analytics.db" and store.retention_days == 30.0
        assert store.pricing.cost("house-model", 1_000_000, 0) == pytest.approx(1.0)
        assert store.pricing.price("gpt-4o") is not None
    finally:
        store.close()


def test_estimated_usage_and_counted_tokens_get_their_columns() -> None:
    """Issue 16: a row says when its tokens are dario's estimate, and what a count_tokens request counted."""
    row = row_from_outcome(pool_pb2.Outcome(request_id="r", usage_estimated=True, input_tokens=12, output_tokens=3))
    assert (row["usage_estimated"], row["counted_tokens"], row["input_tokens"]) == (1, None, 12)
    counted = row_from_outcome(pool_pb2.Outcome(request_id="c", counted_tokens=345, input_tokens=-1))
    assert (counted["usage_estimated"], counted["counted_tokens"], counted["input_tokens"]) == (0, 345, None)
    assert row_from_outcome(outcome("old"))["usage_estimated"] == 0  # an outcome from before the field


def test_pool_service_writes_analytics_without_importing_sqlite_utils(tmp_path: pathlib.Path) -> None:
    """The store migrates a new database in a child process and writes with sqlite3: sqlite-utils and what it
    imports (about 8 MB resident) never load into pool_service (pool_service.analytics)."""
    script = (
        "import asyncio, pathlib, sys\n"
        "import pool_service.__main__\n"
        "from pool_service.analytics import AnalyticsStore\n"
        "from pool_service.conversions import row_from_outcome\n"
        "from dario.v1 import pool_pb2\n"
        f"store = AnalyticsStore(pathlib.Path({str(tmp_path / 'analytics.db')!r}))\n"
        "outcome = pool_pb2.Outcome(request_id='child', started_at=1.0, backend='b', model='m', status=200,\n"
        "                           input_tokens=3, output_tokens=4)\n"
        "asyncio.run(store.write([row_from_outcome(outcome)]))\n"
        "store.close()\n"
        "print(sorted(name for name in ('sqlite_utils', 'click', 'tabulate', 'dateutil') if name in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    database = sqlite_utils.Database(tmp_path / "analytics.db")
    assert [(row["request_id"], row["input_tokens"], row["output_tokens"]) for row in database.table("requests").rows] \
        == [("child", 3, 4)]
    assert set(database.table("requests").columns_dict) == set(COLUMNS)
    database.close()
