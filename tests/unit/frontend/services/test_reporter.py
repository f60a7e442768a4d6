"""The outcome reporter against a real pool_service servicer (in this process, on a Unix socket): requeue after a
broken stream, an outcome pool_service refuses, /health's "behind", the journal replayed after a kill."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc
import pytest

from dario.config import Config, Paths
from dario.grpc_client import CHANNEL_OPTIONS, unix_target
from dario.v1 import pool_pb2, pool_pb2_grpc
from frontend import bounds
from frontend.exchange import Exchange
from frontend.services.journal import Journal
from frontend.services.reporter import OutcomeReporter
from pool_service.analytics import AnalyticsStore
from pool_service.servicer import PoolServicer

pytestmark = pytest.mark.timeout(60)


def outcome(index: int, model: str = "gpt-4o-mini") -> pool_pb2.Outcome:
    return pool_pb2.Outcome(request_id=f"req_{index:06d}", started_at=time.time(),
                            api_format=pool_pb2.API_FORMAT_OPENAI, backend="solo", credential="default", model=model,
                            status=200, local=True,
                            input_tokens=3, output_tokens=2, attempts=1)


@dataclass
class Running:
    servicer: PoolServicer
    server: grpc.aio.Server


@contextlib.asynccontextmanager
async def pool_service(home: pathlib.Path) -> AsyncIterator[Running]:
    """The real servicer and analytics store, served as pool_service serves them."""
    paths = Paths(home)
    paths.ensure()
    store = AnalyticsStore(paths.analytics_db)
    servicer = PoolServicer(store, Config(paths=paths))
    server = grpc.aio.server()
    pool_pb2_grpc.add_PoolServicer_to_server(servicer, server)
    server.add_insecure_port(unix_target(paths.pool_socket))
    await server.start()
    try:
        yield Running(servicer, server)
    finally:
        await server.stop(0)
        await asyncio.to_thread(store.close)


@contextlib.asynccontextmanager
async def reporter_for(home: pathlib.Path, **options: object) -> AsyncIterator[OutcomeReporter]:
    channel = grpc.aio.insecure_channel(unix_target(Paths(home).pool_socket), options=CHANNEL_OPTIONS)
    reporter = OutcomeReporter(pool_pb2_grpc.PoolStub(channel), Journal(home / "run" / "journal"), **options)
    await reporter.start()
    try:
        yield reporter
    finally:
        await reporter.close(0.5)
        await channel.close()


async def until(condition: Callable[[], bool], what: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {seconds}s")
        await asyncio.sleep(0.02)


def recorded(home: pathlib.Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(Paths(home).analytics_db)) as connection:
        return [row[0] for row in connection.execute("select request_id from requests order by request_id")]


def chosen(running: Running) -> int:
    return running.servicer.pool.state("solo", "default").chosen


async def send_unacknowledged(home: pathlib.Path, reporter: OutcomeReporter, running: Running,
                              count: int) -> sqlite3.Connection:
    """Sends count outcomes while the test holds the database's write lock: pool_service has them, its writer
    waits, and the batch stays unacknowledged until the returned connection lets go."""
    blocker = sqlite3.connect(Paths(home).analytics_db, isolation_level=None)
    blocker.execute("begin exclusive")
    for index in range(count):
        reporter.add(outcome(index))
    await until(lambda: chosen(running) == count, "received by pool_service")
    return blocker


async def test_a_batch_written_but_never_acknowledged_is_replayed_from_the_journal_and_counted_once(
    tmp_path: pathlib.Path
) -> None:
    home = tmp_path / "home"
    async with pool_service(home) as service:
        async with reporter_for(home) as reporter:
            blocker = await send_unacknowledged(home, reporter, service, 10)
        # The frontend stopped before the acknowledgement; the write lands after it.
        blocker.rollback()
        blocker.close()
        await until(lambda: len(recorded(home)) == 10, "written")
        async with reporter_for(home) as reporter:
            assert reporter.replayed == 10
            await until(lambda: reporter.backlog == 0, "acknowledged")
        # The same pool_service saw them again: the in-flight counts and the pool were not touched twice.
        assert chosen(service) == 10
    assert recorded(home) == [f"req_{index:06d}" for index in range(10)]
    assert list((home / "run" / "journal").iterdir()) == []


async def test_the_same_reporter_requeues_what_a_stopped_pool_service_never_acknowledged(
    tmp_path: pathlib.Path
) -> None:
    home = tmp_path / "home"
    async with reporter_for(home) as reporter:
        async with pool_service(home) as first:
            blocker = await send_unacknowledged(home, reporter, first, 5)
            await first.server.stop(0)  # the stream breaks with the batch unacknowledged
            blocker.rollback()
            blocker.close()
        for index in range(5, 8):  # while pool_service is away
            reporter.add(outcome(index))
        assert reporter.backlog == 8
        async with pool_service(home) as second:
            await until(lambda: reporter.backlog == 0, "acknowledged after the restart")
            assert chosen(second) == 8  # the 5 were sent again
    assert recorded(home) == [f"req_{index:06d}" for index in range(8)]


async def test_an_outcome_pool_service_refuses_is_found_dropped_and_the_others_recorded(tmp_path: pathlib.Path) -> None:
    home = tmp_path / "home"
    big = 16 * 1024 * 1024  # let a 5 MiB outcome into one 16-outcome batch: pool_service takes at most 4 MiB
    async with pool_service(home), reporter_for(home, batch_bytes=big, max_outcome_bytes=big) as reporter:
        for index in range(16):
            reporter.add(outcome(index, model="m" * (5 * 1024 * 1024) if index == 7 else "gpt-4o-mini"))
        await until(lambda: reporter.backlog == 0, "past the refused outcome")
        assert reporter.refused == 1
        reporter.add(outcome(100))
        await until(lambda: reporter.backlog == 0, "recording again")
        assert reporter.health()["state"] == "ok"
    assert recorded(home) == [f"req_{index:06d}" for index in [*range(7), *range(8, 16), 100]]


async def test_an_outcome_too_large_to_send_is_dropped_before_it_reaches_a_batch(tmp_path: pathlib.Path) -> None:
    home = tmp_path / "home"
    async with pool_service(home), reporter_for(home) as reporter:
        reporter.add(outcome(1, model="m" * (4 * 1024 * 1024)))
        reporter.add(outcome(2))
        await until(lambda: reporter.backlog == 0, "acknowledged")
        assert reporter.refused == 1
    assert recorded(home) == ["req_000002"]


async def test_health_says_behind_while_outcomes_wait_and_ok_once_they_are_recorded(tmp_path: pathlib.Path) -> None:
    home = tmp_path / "home"
    async with reporter_for(home, behind_seconds=0.3, behind_backlog=50) as reporter:  # no pool_service yet
        reporter.add(outcome(1))
        assert reporter.health()["state"] == "ok"
        await until(lambda: reporter.health()["state"] == "behind", "behind")
        assert reporter.health()["oldest_seconds"] > 0.3 and reporter.health()["backlog"] == 1
        async with pool_service(home):
            await until(lambda: reporter.health()["state"] == "ok", "caught up")
            for index in range(2, 60):
                reporter.add(outcome(index))
            health = reporter.health()
            assert health["state"] == "behind" and health["backlog"] == 58, health  # too many waiting
            await until(lambda: reporter.health()["state"] == "ok", "caught up")


async def test_a_killed_frontend_s_journal_is_replayed_once_and_then_deleted(tmp_path: pathlib.Path) -> None:
    home = tmp_path / "home"
    folder = home / "run" / "journal"
    async with pool_service(home):
        nowhere = grpc.aio.insecure_channel(unix_target(tmp_path / "nothing.sock"))
        dead = OutcomeReporter(pool_pb2_grpc.PoolStub(nowhere), Journal(folder))
        await dead.start()
        for index in range(20):
            dead.add(outcome(index))
        for segment in dead.journal.segments:  # as a SIGKILL would: the lock goes, nothing is cleaned up
            os.close(segment.descriptor)
        dead._task.cancel()
        await nowhere.close()
        (segment_path,) = folder.glob("*.journal")
        with segment_path.open("ab") as file:
            file.write(b"0badc0de AAAA")  # a torn last line
        async with reporter_for(home) as reporter:
            assert reporter.replayed == 20 and reporter.journal.skipped == 1
            await until(lambda: reporter.backlog == 0, "replayed")
            assert not segment_path.exists()
    assert recorded(home) == [f"req_{index:06d}" for index in range(20)]


def test_every_string_of_an_outcome_is_bounded_and_valid_utf8() -> None:
    exchange = Exchange(request_id="req_" + "i" * 1000, api_format="openai", model="m" * (4 * 1024 * 1024),
                        backend="solo", error_type="e" * 10_000, fallback_from="f" * 1000)
    exchange.rate_limit_headers = {f"x-ratelimit-{index}": "\udcff" + "v" * 10_000 for index in range(1000)}
    exchange.failover = [f"key-{index}:429" for index in range(10_000)]
    record = exchange.outcome()
    assert record.ByteSize() < 32 * 1024
    assert len(record.model) == bounds.MODEL_CHARS and record.model.endswith(bounds.MARK)
    assert len(record.rate_limit_headers) == bounds.HEADERS_KEPT
    assert all(value.startswith("\ufffd") for value in record.rate_limit_headers.values())
    assert pool_pb2.Outcome.FromString(record.SerializeToString()) == record
    assert bounds.bounded("\ud83d\ude00 ok", 10) == "😀 ok" and bounds.bounded("a\ud800", 10) == "a\ufffd"
