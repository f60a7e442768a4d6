"""The analytics report from the cluster's PostgreSQL (issue 15 item 5): the same SQL as SQLite's, so the same rows
give the same report on both engines; by=instance and the instance filter split the cluster by host.

Rows reach PostgreSQL the way pool_service ships them (AnalyticsStore + Forwarder), into a schema of the test's own."""

from __future__ import annotations

import pathlib
import random
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from pool_service.analytics import AnalyticsStore, Row
from pool_service.analytics_postgres import Forwarder, ReportUnavailable, reading
from pool_service.reports import report
from tests.integration.postgres_vault import fresh_schema

pytestmark = pytest.mark.timeout(120)
NOW = 1_800_000_000.0
HOUR = 3600.0
MODELS = ("claude-sonnet-4-5", "gpt-4o", "unpriced-local-model")


@pytest.fixture
def url() -> Iterator[str]:
    with fresh_schema("analytics_reports") as schema_url:
        yield schema_url


def rows(prefix: str, count: int, seed: int) -> list[Row]:
    """Varied rows: backends, credentials, requested and served models, errors, latencies of 0 and none, failovers,
    fallbacks, estimated usage, unpriced models, attribution, some before the window."""
    chance = random.Random(seed)
    made = []
    for index in range(count):
        model = chance.choice(MODELS)
        made.append({
            "request_id": f"{prefix}-{index}", "started_at": NOW - chance.choice((5.0, 60.0, 1800.0, 2 * HOUR)),
            "api_format": chance.choice(("openai", "anthropic")), "backend": chance.choice(("b1", "b2", "b3")),
            "credential": chance.choice(("k1", "k2")), "model": model,
            "served_model": chance.choice(("", model, f"{model}-2026")), "status": chance.choice((200, 200, 429, 500)),
            "error_type": "", "latency_ms": chance.choice((None, 0.0, 1.5, 12.25, 12.25, 300.0, 4000.0)),
            "ttfb_ms": chance.choice((0.0, 0.5, 80.0)), "input_tokens": chance.choice((None, 0, 17, 1200)),
            "output_tokens": chance.randint(0, 900), "cache_read_tokens": chance.choice((None, 64)),
            "reasoning_tokens": chance.choice((None, 5)), "stream": chance.randint(0, 1), "attempts": 1,
            "failover": chance.choice(("", "", "k2")), "fallback_from": chance.choice(("", "", "b1")),
            "queued_ms": 0.0, "cache_write_tokens": chance.choice((None, 0, 30)),
            "usage_estimated": chance.randint(0, 1), "client": chance.choice(("claude-code", "codex", "")),
            "session": chance.choice(("s1", "s2", "")), "project": chance.choice(("shop", "billing", "")),
            "tags": "",
        })
    return made


def shipped(path: pathlib.Path, url: str, instance: str, written: list[Row]) -> None:
    """Writes the rows into path's SQLite and ships them to PostgreSQL as pool_service does."""
    forwarder = Forwarder(path, url, instance)
    store = AnalyticsStore(path, retention_days=None, outbox=True, on_written=forwarder.wake)
    forwarder.start()
    try:
        done: list[bool] = []
        store.submit(written, done.append)
        store.close()
        assert done == [True]
        deadline = time.monotonic() + 30
        while forwarder.pending():
            assert time.monotonic() < deadline, "the rows were never shipped"
            time.sleep(0.05)
    finally:
        forwarder.close()


def without_source(built: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in built.items() if name != "source"}


ASKED: list[tuple[list[str], dict[str, str]]] = [
    ([], {}),
    (["session", "project", "client"], {}),
    (["client"], {"project": "shop"}),
    ([], {"session": "s2", "client": "codex"}),
]


def test_the_same_rows_give_the_same_report_from_sqlite_and_from_postgresql(url: str,
                                                                            tmp_path: pathlib.Path) -> None:
    path = tmp_path / "analytics.db"
    shipped(path, url, "only", rows("same", 400, seed=15))
    accounts = [{"backend": "b1", "credential": "k1",
                 "windows": [{"name": "tokens", "limit": 100000, "remaining": 5000, "reset_at": NOW + 30}]}]
    for by, filters in ASKED:
        local = report(path, NOW, HOUR, accounts, by, filters)
        with reading(url) as reader:
            clustered = report(reader, NOW, HOUR, accounts, by, filters)
        assert local["source"] == "instance" and clustered["source"] == "cluster"
        assert without_source(clustered) == without_source(local), (by, filters)
        assert local["window"]["requests"] > 0 and local["all_time"]["requests"] > local["window"]["requests"]
    assert local["window"]["latency_p50_ms"] is not None


def test_by_instance_and_the_instance_filter_split_the_cluster_by_host(url: str, tmp_path: pathlib.Path) -> None:
    shipped(tmp_path / "one.db", url, "host-1", rows("one", 150, seed=1))
    shipped(tmp_path / "two.db", url, "host-2", rows("two", 90, seed=2))
    with reading(url) as reader:
        cluster = report(reader, NOW, HOUR, by=["instance"])
        only_two = report(reader, NOW, HOUR, by=["client"], filters={"instance": "host-2"})
    one, two = report(tmp_path / "one.db", NOW, HOUR), report(tmp_path / "two.db", NOW, HOUR, by=["client"])
    assert cluster["all_time"]["requests"] == 240
    assert {entry["instance"]: entry["requests"] for entry in cluster["by_instance"]} == {
        "host-1": one["window"]["requests"], "host-2": two["window"]["requests"]}
    assert cluster["window"]["input_tokens"] == one["window"]["input_tokens"] + two["window"]["input_tokens"]
    assert without_source(only_two) == without_source(two), "one instance of the cluster is that host's own report"


def test_instance_grouping_and_filter_need_the_cluster(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "analytics.db"
    store = AnalyticsStore(path, retention_days=None)
    store.close()
    with pytest.raises(ValueError, match=r"\[cluster\] postgres"):
        report(path, NOW, HOUR, by=["instance"])
    with pytest.raises(ValueError, match=r"\[cluster\] postgres"):
        report(path, NOW, HOUR, filters={"instance": "host-1"})


def test_a_report_before_any_row_was_shipped_is_empty_and_an_unreachable_server_is_named(url: str) -> None:
    with reading(url) as reader:
        built = report(reader, NOW, HOUR, by=["instance"])
    assert built["all_time"]["requests"] == 0 and built["by_instance"] == [] and built["source"] == "cluster"
    parts = urllib.parse.urlsplit(url)
    closed = parts._replace(netloc="postgres:hunter2-secret@127.0.0.1:9").geturl()
    with pytest.raises(ReportUnavailable) as caught:
        with reading(closed, timeout=2):
            pass
    assert "hunter2" not in str(caught.value) and "OperationalError" in str(caught.value)
