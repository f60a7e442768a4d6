"""The analytics store: schema, one writer, -1 → NULL, resends replace, totals, close flushes."""

from __future__ import annotations

import asyncio
import pathlib
import sqlite3

from dario.v1 import pool_pb2
from pool_service.analytics import AnalyticsStore, row_from_outcome


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


async def test_a_resent_request_id_replaces_its_row(tmp_path: pathlib.Path) -> None:
    store = AnalyticsStore(tmp_path / "analytics.db")
    await store.write([row_from_outcome(outcome("same", tokens=1))])
    await store.write([row_from_outcome(outcome("same", tokens=2))])
    store.close()
    found = rows(tmp_path / "analytics.db")
    assert len(found) == 1 and found[0]["input_tokens"] == 2


async def test_concurrent_writers_are_serialized_and_grouped(tmp_path: pathlib.Path) -> None:
    store = AnalyticsStore(tmp_path / "analytics.db")
    await asyncio.gather(*(store.write([row_from_outcome(outcome(f"r{i:03}"))]) for i in range(200)))
    store.close()
    assert len(rows(tmp_path / "analytics.db")) == 200


def test_close_flushes_what_was_submitted(tmp_path: pathlib.Path) -> None:
    store = AnalyticsStore(tmp_path / "analytics.db")
    acknowledged = []
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
