"""The dashboard's queries on a seeded database (issue 14): traffic per bucket, the latest requests page, prices."""

from __future__ import annotations

import pathlib
import sqlite3
from typing import cast

import pytest

from dario.v1 import pool_pb2
from pool_service import timeline as timeline_module
from pool_service.analytics import AnalyticsStore
from pool_service.conversions import recorded_to_proto, timeline_to_proto
from pool_service.pricing import Pricing
from pool_service.recent import RecentError, recent
from pool_service.timeline import NO_SAMPLE, OTHER, TimelineError, bucket_for, timeline

NOW = 1_800_000_030.0  # 30 s into a minute
MINUTE = 60.0


def row(request_id: str, started_at: float, backend: str = "b1", model: str = "gpt-4o", status: int = 200,
        latency_ms: float = 100.0, ttfb_ms: float = 10.0, input_tokens: int | None = 10,
        output_tokens: int | None = 5) -> dict:
    return {"request_id": request_id, "started_at": started_at, "api_format": "openai", "backend": backend,
            "credential": "c1", "model": model, "served_model": "", "status": status, "error_type": "",
            "latency_ms": latency_ms, "ttfb_ms": ttfb_ms, "input_tokens": input_tokens,
            "output_tokens": output_tokens, "cache_read_tokens": None, "reasoning_tokens": None, "stream": 0,
            "attempts": 1, "failover": "", "fallback_from": "", "queued_ms": 0.0, "cache_write_tokens": None}


LAST_MINUTE = 1_800_000_000.0  # the bucket holding NOW
SEEDED = [
    row("a", LAST_MINUTE + 1, latency_ms=100, ttfb_ms=10),
    row("b", LAST_MINUTE + 2, latency_ms=300, ttfb_ms=30),
    row("c", LAST_MINUTE + 3, backend="b2", latency_ms=200, ttfb_ms=0, status=429),
    row("d", LAST_MINUTE - MINUTE + 5, backend="b2", status=500, latency_ms=50),
    row("e", LAST_MINUTE - 10 * MINUTE, model="claude-haiku-4-5", input_tokens=None, output_tokens=None),
    row("old", NOW - 7200),  # outside the hour
]


def seed(path: pathlib.Path, rows: list[dict]) -> pathlib.Path:
    store = AnalyticsStore(path, pricing=Pricing.load())
    done: list[bool] = []
    store.submit(rows, done.append)
    store.close()
    assert done == [True]
    return path


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return seed(tmp_path_factory.mktemp("timeline") / "analytics.db", SEEDED)


def test_buckets_are_aligned_minutes_and_the_last_holds_now(database: pathlib.Path) -> None:
    result = timeline(database, NOW, 3600)
    assert result["bucket_seconds"] == MINUTE
    assert len(result["starts"]) == 60
    assert result["starts"][-1] == LAST_MINUTE
    assert result["starts"][0] == LAST_MINUTE - 59 * MINUTE


def test_series_are_stacked_by_backend_most_requests_first(database: pathlib.Path) -> None:
    result = timeline(database, NOW, 3600)
    series = {entry["key"]: entry for entry in result["series"]}
    assert [entry["key"] for entry in result["series"]] == ["b1", "b2"]
    assert series["b1"]["requests"][-1] == 2 and series["b2"]["requests"][-1] == 1
    assert series["b2"]["requests"][-2] == 1
    assert series["b1"]["requests"][-11] == 1  # "e", ten minutes before
    assert sum(sum(entry["requests"]) for entry in result["series"]) == 5  # "old" is outside the window
    assert series["b1"]["input_tokens"][-1] == 20 and series["b1"]["output_tokens"][-1] == 10
    assert series["b1"]["cost_usd"][-1] == pytest.approx(2 * (10 * 2.5 + 5 * 10) / 1e6)


def test_series_by_model_use_the_served_model_else_the_asked_one(database: pathlib.Path) -> None:
    keys = [entry["key"] for entry in timeline(database, NOW, 3600, by="model")["series"]]
    assert keys == ["gpt-4o", "claude-haiku-4-5"]


def test_errors_are_counted_per_status_and_bucket(database: pathlib.Path) -> None:
    errors = {entry["status"]: entry["requests"] for entry in timeline(database, NOW, 3600)["errors"]}
    assert set(errors) == {429, 500}
    assert errors[429][-1] == 1 and sum(errors[429]) == 1
    assert errors[500][-2] == 1 and sum(errors[500]) == 1


def check_percentiles(result: dict, approximately: dict) -> None:
    assert result["latency_p50_ms"][-1] == approximately(200)  # of 100, 200, 300
    assert result["latency_p95_ms"][-1] == approximately(300)
    assert result["ttfb_p50_ms"][-1] == approximately(10)  # of 10, 30: the 0 (no byte sent) is no sample
    assert result["ttfb_p95_ms"][-1] == approximately(30)
    assert result["latency_p50_ms"][-2] == approximately(50)
    assert result["latency_p50_ms"][-3] == NO_SAMPLE


def test_percentiles_per_bucket_are_within_one_percent_and_absent_without_samples(database: pathlib.Path) -> None:
    # A bin is 2% wide and shown by its centre, rounded to 0.1 ms.
    check_percentiles(timeline(database, NOW, 3600), lambda value: pytest.approx(value, abs=value * 0.0101 + 0.05))


def test_without_sqlite_math_functions_percentiles_are_the_exact_nearest_rank(database: pathlib.Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timeline_module, "_has_math", lambda connection: False)
    check_percentiles(timeline(database, NOW, 3600), lambda value: value)


def test_a_scan_and_the_index_give_the_same_timeline(database: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timeline_module, "SCAN_SHARE", 1.0)  # never a scan
    through_index = timeline(database, NOW, 3600, by="model")
    monkeypatch.setattr(timeline_module, "SCAN_SHARE", -1.0)  # always
    assert timeline(database, NOW, 3600, by="model") == through_index


def test_parts_past_the_eighth_are_summed_into_other(tmp_path: pathlib.Path) -> None:
    rows = [row(f"r{index}-{copy}", LAST_MINUTE + 1, backend=f"backend-{index}")
            for index in range(10) for copy in range(index + 1)]
    result = timeline(seed(tmp_path / "many.db", rows), NOW, 3600)
    keys = [entry["key"] for entry in result["series"]]
    assert keys == [f"backend-{index}" for index in range(9, 1, -1)] + [OTHER]
    assert result["series"][-1]["requests"][-1] == 1 + 2  # backend-0 and backend-1


def test_a_day_has_quarter_hours_and_a_week_hours() -> None:
    assert bucket_for(86_400) == 900
    assert bucket_for(7 * 86_400) == 3600


def test_unknown_keys_and_unrecorded_columns_are_refused(database: pathlib.Path) -> None:
    with pytest.raises(TimelineError, match="stacked by"):
        timeline(database, NOW, 3600, by="nonsense")
    columns = {row[1] for row in sqlite3.connect(database).execute("pragma table_info(requests)")}
    if "project" not in columns:
        with pytest.raises(TimelineError, match="records no project"):
            timeline(database, NOW, 3600, by="project")
    with pytest.raises(TimelineError, match="too many"):
        timeline(database, NOW, 86_400, bucket_seconds=1)


def test_no_database_gives_empty_buckets(tmp_path: pathlib.Path) -> None:
    result = timeline(tmp_path / "absent.db", NOW, 3600)
    assert result["series"] == [] and result["latency_p50_ms"] == [NO_SAMPLE] * 60


def test_the_timeline_message_carries_every_bucket(database: pathlib.Path) -> None:
    message = timeline_to_proto(timeline(database, NOW, 3600))
    assert len(message.starts) == 60 and message.series[0].key == "b1"
    assert list(message.series[0].requests)[-1] == 2


def test_recent_requests_are_newest_first_and_paged(database: pathlib.Path) -> None:
    first = recent(database, {}, limit=2)
    assert [entry["request_id"] for entry in first.rows] == ["c", "b"]
    assert first.total == 6
    second = recent(database, {}, limit=2, offset=2)
    assert [entry["request_id"] for entry in second.rows] == ["a", "d"]


def test_recent_requests_are_filtered(database: pathlib.Path) -> None:
    assert [entry["request_id"] for entry in recent(database, {"backend": "b2"}).rows] == ["c", "d"]
    assert [entry["request_id"] for entry in recent(database, {"status": 429}).rows] == ["c"]
    page = recent(database, {"model": "claude-haiku-4-5"})
    assert [entry["request_id"] for entry in page.rows] == ["e"] and page.total == 1


def test_recent_requests_refuse_bad_pages_and_filters(database: pathlib.Path) -> None:
    with pytest.raises(RecentError, match="limit"):
        recent(database, {}, limit=0)
    with pytest.raises(RecentError, match="offset"):
        recent(database, {}, offset=-1)
    with pytest.raises(RecentError, match="filtered by"):
        recent(database, {"prompt": "x"})


def test_a_recorded_request_message_leaves_unreported_counts_absent(database: pathlib.Path) -> None:
    entry = next(entry for entry in recent(database, {}).rows if entry["request_id"] == "e")
    message = recorded_to_proto(entry)
    assert isinstance(message, pool_pb2.RecordedRequest)
    assert not message.HasField("input_tokens") and not message.HasField("cost_usd")
    assert message.model == "claude-haiku-4-5" and message.status == 200


def test_prices_list_config_globs_first_then_the_shipped_ones() -> None:
    table = Pricing.load({"my-model*": {"input": 1, "output": 2}}).table()
    assert table[0] == {"pattern": "my-model*", "source": "config.toml", "input": 1.0, "output": 2.0,
                        "cache_read": 1.0, "cache_write": 1.0, "input_includes_cache_read": True}
    assert all(entry["source"] == "shipped" for entry in table[1:])
    assert any(cast(str, entry["pattern"]).startswith("gpt-4o") for entry in table)
