"""Analytics shipped to the machine's real PostgreSQL (pool_service/analytics_postgres.py, issue 15 items 5 and 6):
two hosts' outcomes land once each with their instance, and PostgreSQL cut mid-load loses none of them.

Each test has a schema of its own (tests/integration/postgres_vault.py), dropped afterwards. PostgreSQL "goes away"
through a TCP proxy the test cuts, never by stopping the machine's server."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import pathlib
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2

from dario.grpc_client import ANALYTICS_HEALTH, health_check
from dario.testing.cluster import running_instance
from dario.testing.tcp_proxy import ThreadedTcpProxy
from dario.v1 import pool_pb2, pool_pb2_grpc
from pool_service.analytics import COLUMNS, AnalyticsStore, Row
from pool_service.analytics_postgres import MIGRATIONS, MIGRATIONS_TABLE, TABLE, Forwarder, migrate
from tests.integration.postgres_vault import fresh_schema

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def schema() -> Iterator[str]:
    with fresh_schema("analytics") as url:
        yield urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["options"][0].removeprefix("-csearch_path=")


def url_of(schema: str, port: int = 5432) -> str:
    return (f"postgresql://postgres@127.0.0.1:{port}/test?"
            f"options={urllib.parse.quote(f'-csearch_path={schema}')}")


def outcome(request_id: str, started_at: float, **fields: object) -> Row:
    return {"request_id": request_id, "started_at": started_at, "api_format": "openai", "backend": "b",
            "credential": "k1", "model": "m", "status": 200, "latency_ms": 12.5, "ttfb_ms": 3.0,
            "input_tokens": 10, "output_tokens": 20, **fields}


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)


def counted(url: str) -> dict[str, int]:
    with psycopg.connect(url) as connection:
        return dict(connection.execute(f"SELECT instance, count(*) FROM {TABLE} GROUP BY instance").fetchall())


class Host:
    """One pool_service's analytics: its SQLite store and the forwarder shipping it, as pool_service wires them."""

    def __init__(self, path: pathlib.Path, url: str, instance: str, **forwarder: float) -> None:
        self.health: list[bool] = []
        self.forwarder = Forwarder(path, url, instance, on_health=self.health.append, **forwarder)
        self.store = AnalyticsStore(path, retention_days=None, outbox=True, on_written=self.forwarder.wake)
        self.forwarder.start()

    def close(self) -> None:
        self.store.close()
        self.forwarder.close()


def test_the_schema_is_migrated_once_with_the_sqlite_columns_and_the_instance(schema: str) -> None:
    with psycopg.connect(url_of(schema), autocommit=True) as connection:
        assert migrate(connection) == [version for version, _ in MIGRATIONS]
        assert migrate(connection) == [], "a second run applies nothing"
        columns = {name for (name,) in connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (schema, TABLE))}
        recorded = [version for (version,) in connection.execute(f"SELECT version FROM {MIGRATIONS_TABLE}")]
    assert columns == {*COLUMNS, "instance"}
    assert recorded == [version for version, _ in MIGRATIONS]


def test_two_hosts_outcomes_land_once_each_with_their_instance(schema: str, tmp_path: pathlib.Path) -> None:
    url = url_of(schema)
    one, two = Host(tmp_path / "one.db", url, "host-1"), Host(tmp_path / "two.db", url, "host-2")
    try:
        now = time.time()

        async def load() -> None:
            for batch in range(10):
                await asyncio.gather(
                    one.store.write([outcome(f"one-{batch}-{item}", now) for item in range(30)]),
                    two.store.write([outcome(f"two-{batch}-{item}", now) for item in range(20)]))
            # A batch sent again (the frontend's journal replayed): written again locally, shipped again, kept once.
            await one.store.write([outcome(f"one-0-{item}", now) for item in range(30)])

        asyncio.run(load())
        wait_until(lambda: one.forwarder.pending() == two.forwarder.pending() == 0, "both outboxes empty")
        assert counted(url) == {"host-1": 300, "host-2": 200}
        # A forwarder killed after PostgreSQL committed but before it emptied its outbox ships those rows again.
        with psycopg.connect(url) as connection:
            before = connection.execute(f"SELECT sum(input_tokens) FROM {TABLE}").fetchone()
        one.store.close()
        with sqlite3.connect(one.store.path) as database:
            database.execute("insert into requests_outbox (request_id) select request_id from requests")
        one.forwarder.wake()
        wait_until(lambda: one.forwarder.pending() == 0, "the replayed outbox shipped")
        assert counted(url) == {"host-1": 300, "host-2": 200}
        with psycopg.connect(url) as connection:
            assert connection.execute(f"SELECT sum(input_tokens) FROM {TABLE}").fetchone() == before
        assert one.health == two.health == [True]
    finally:
        one.close()
        two.close()


def test_postgresql_cut_mid_load_loses_no_outcome_and_ships_them_all_on_return(schema: str,
                                                                              tmp_path: pathlib.Path) -> None:
    with ThreadedTcpProxy("127.0.0.1", 5432) as proxy:
        host = Host(tmp_path / "analytics.db", url_of(schema, proxy.proxy.port), "host-cut",
                    retry_seconds=0.05, retry_max_seconds=0.3)
        try:
            now = time.time()

            async def load(batches: range) -> None:
                for batch in batches:  # every write is acknowledged: the local store takes it
                    await host.store.write([outcome(f"cut-{batch}-{item}", now + batch) for item in range(25)])
                    await asyncio.sleep(0.01)

            asyncio.run(load(range(10)))
            wait_until(lambda: host.health == [True], "PostgreSQL reached")
            proxy.cut()
            asyncio.run(load(range(10, 30)))
            wait_until(lambda: host.health == [True, False], "the forwarder saw PostgreSQL go")
            asyncio.run(load(range(30, 40)))
            assert host.forwarder.pending() > 0, "outcomes wait locally while PostgreSQL is away"
            proxy.restore()
            asyncio.run(load(range(40, 50)))
            wait_until(lambda: host.forwarder.pending() == 0, "everything shipped after the return")
            assert host.health == [True, False, True]
            assert counted(url_of(schema)) == {"host-cut": 50 * 25}
            assert host.store.totals().requests == 50 * 25
        finally:
            host.close()


def grpc_health(socket_path: pathlib.Path) -> str:
    with grpc.insecure_channel(f"unix:{socket_path}") as channel:
        try:
            answer = health_check(channel)(health_pb2.HealthCheckRequest(service=ANALYTICS_HEALTH), timeout=5)
        except grpc.RpcError as error:
            return str(error.code().name)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)


def test_a_running_instance_says_degraded_while_postgresql_is_away_and_counts_everything_after(
        schema: str, tmp_path: pathlib.Path) -> None:
    """The whole instance (three processes) with [cluster] postgres through the proxy: outcomes reported while
    PostgreSQL is cut are acknowledged, /health says analytics degraded, and all of them arrive after."""
    key = base64.b64encode(os.urandom(32)).decode()
    with ThreadedTcpProxy("127.0.0.1", 5432) as proxy:
        environment = {"DARIO_CLUSTER_POSTGRES": url_of(schema, proxy.proxy.port), "DARIO_VAULT_KEY": key,
                       "DARIO_CLUSTER_INSTANCE": "whole-1"}
        with running_instance(tmp_path / "home", "", environment) as instance:
            socket_path = instance.services.config.paths.pool_socket
            instance.wait_health({"status": "ok", "cluster": {"analytics": "shared"}})
            sequence = iter(range(1, 1000))

            def report(prefix: str, batches: int) -> None:
                requests = [pool_pb2.ReportRequest(sequence=next(sequence), outcomes=[
                    pool_pb2.Outcome(request_id=f"{prefix}-{batch}-{item}", started_at=time.time(), backend="b",
                                     credential="k1", status=200, input_tokens=1, output_tokens=2)
                    for item in range(10)]) for batch in range(batches)]
                with grpc.insecure_channel(f"unix:{socket_path}") as channel:
                    answers = list(pool_pb2_grpc.PoolStub(channel).Report(iter(requests), timeout=30))
                assert [answer.sequence for answer in answers] == [request.sequence for request in requests]

            report("before", 5)
            proxy.cut()
            report("during", 10)
            health = instance.wait_health({"status": "degraded"})
            assert health["cluster"] == {"analytics": "degraded"}
            assert grpc_health(socket_path) == "NOT_SERVING"
            report("still", 5)
            proxy.restore()
            instance.wait_health({"status": "ok"})
            assert grpc_health(socket_path) == "SERVING"
            wait_until(lambda: counted(url_of(schema)) == {"whole-1": 200}, "all 200 outcomes in PostgreSQL")
            # Issue 15: the report comes from PostgreSQL, split by instance and narrowed to one.
            whole = analytics_json(instance.base_url, "by=instance")
            assert whole["source"] == "cluster" and whole["all_time"]["requests"] == 200
            assert [(entry["instance"], entry["requests"]) for entry in whole["by_instance"]] == [("whole-1", 200)]
            assert analytics_json(instance.base_url, "instance=another-host")["all_time"]["requests"] == 0
            proxy.cut()  # PostgreSQL away: this instance's own rows, said so; by instance needs PostgreSQL
            alone = analytics_json(instance.base_url, "")
            assert alone["source"] == "instance" and alone["all_time"]["requests"] == 200
            with pytest.raises(urllib.error.HTTPError) as caught:
                analytics_json(instance.base_url, "by=instance")
            assert caught.value.code == 503
            proxy.restore()


def analytics_json(base_url: str, query: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base_url}/analytics?window=86400&{query}", timeout=30) as answer:
        document: dict[str, Any] = json.loads(answer.read())
    return document


def test_rows_pruned_before_they_shipped_leave_the_outbox_and_are_counted_in_the_log(
        schema: str, tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    """The bound: retention deletes old rows locally whether or not PostgreSQL has them."""
    path = tmp_path / "analytics.db"
    store = AnalyticsStore(path, retention_days=None, outbox=True)
    asyncio.run(store.write([outcome(f"old-{item}", 1000.0) for item in range(5)]
                            + [outcome("new", time.time())]))
    store.close()
    with sqlite3.connect(path) as database:
        database.execute("delete from requests where started_at < 2000")  # what prune does past retention
    forwarder = Forwarder(path, url_of(schema), "host-pruned")
    forwarder.start()
    try:
        wait_until(lambda: forwarder.pending() == 0, "the outbox emptied")
    finally:
        forwarder.close()
    assert counted(url_of(schema)) == {"host-pruned": 1}
    assert "5 analytics rows were deleted by retention before PostgreSQL took them" in caplog.text


def test_a_row_postgresql_refuses_is_dropped_and_the_others_still_ship(
        schema: str, tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    """SQLite keeps a text status in an integer column; PostgreSQL's bigint refuses it. That one row is logged and
    dropped instead of holding back every outcome after it."""
    host = Host(tmp_path / "analytics.db", url_of(schema), "host-bad")
    try:
        asyncio.run(host.store.write([outcome("good-1", time.time()), outcome("bad", time.time(), status="oops"),
                                      outcome("good-2", time.time())]))
        wait_until(lambda: host.forwarder.pending() == 0, "the outbox emptied")
        with psycopg.connect(url_of(schema)) as connection:
            shipped = {row[0] for row in connection.execute(f"SELECT request_id FROM {TABLE}")}
        assert shipped == {"good-1", "good-2"}
        assert "PostgreSQL refused the analytics row of request 'bad'" in caplog.text
        assert host.health == [True]
    finally:
        host.close()


def test_an_idle_host_notices_postgresql_going_and_coming_back(schema: str, tmp_path: pathlib.Path) -> None:
    """No outcome to ship: the forwarder's idle check still turns the health degraded, then healthy again."""
    with ThreadedTcpProxy("127.0.0.1", 5432) as proxy:
        host = Host(tmp_path / "analytics.db", url_of(schema, proxy.proxy.port), "host-idle", retry_seconds=0.05,
                    retry_max_seconds=0.2, idle_seconds=0.1)
        try:
            wait_until(lambda: host.health == [True], "PostgreSQL reached")
            proxy.cut()
            wait_until(lambda: host.health == [True, False], "the idle forwarder saw PostgreSQL go")
            proxy.restore()
            wait_until(lambda: host.health == [True, False, True], "and come back")
        finally:
            host.close()
