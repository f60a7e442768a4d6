"""The shared pool state on the machine's real Redis, two or three hosts' states in one process: a 429 one saw
cools the credential for the others' next choice, headroom one learned is used by all, in-flight counts are
shared and die with their instance, and Redis going away falls back to local state and merges back on return.

Each test has its own key prefix and deletes only its own keys."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from dario.config import ClusterConfig
from dario.testing.tcp_proxy import TcpProxy
from pool_service.answers import Availability
from pool_service.queue import Queue
from pool_service.selection import Pool
from pool_service.state import DEGRADED, SHARED
from pool_service.state.redis_keys import Keys
from pool_service.state.shared import RedisPoolState

pytestmark = pytest.mark.timeout(60)
REDIS = "redis://127.0.0.1:6379/0"


def window(remaining: int, limit: int = 100, reset: str = "20s") -> dict[str, str]:
    return {"x-ratelimit-limit-requests": str(limit), "x-ratelimit-remaining-requests": str(remaining),
            "x-ratelimit-reset-requests": reset}


async def forget(prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS)
    try:
        keys = [key async for key in client.scan_iter(match="{" + prefix + "}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    await forget(name)


def recorder(modes: list[tuple[str, str]] | None, name: str) -> Callable[[str], None]:
    """An on_mode that notes (name, mode) in modes (when given)."""
    def record(mode: str) -> None:
        if modes is not None:
            modes.append((name, mode))
    return record


@contextlib.asynccontextmanager
async def hosts(prefix: str, count: int, url: str = REDIS, heartbeat: float = 0.2,
                modes: list[tuple[str, str]] | None = None, first: int = 0) -> AsyncIterator[list[RedisPoolState]]:
    states = []
    for index in range(first, first + count):
        name = f"host-{index}"
        cluster = ClusterConfig(redis=url, instance=name, prefix=prefix, heartbeat_seconds=heartbeat)
        state = RedisPoolState(cluster, on_mode=recorder(modes, name))
        await state.start(lambda backend: None)
        states.append(state)
    try:
        yield states
    finally:
        for state in states:
            await state.close()


async def test_a_429_on_one_host_is_skipped_by_the_others_on_their_next_choice(prefix: str) -> None:
    async with hosts(prefix, 3) as (one, two, three):
        assert await one.choose("b", ["k1", "k2"], request_id="r1") == "k1"
        await one.settle("r1", "b", "k1", 429, {"retry-after": "30"})
        assert await two.choose("b", ["k1", "k2"], request_id="r2") == "k2"
        assert await three.choose("b", ["k1", "k2"], request_id="r3") == "k2"
        until = (await three.unavailable())[("b", "k1")]
        assert 28 < until - time.time() <= 30.5
        assert await two.available_at("b", ["k1"]) == pytest.approx(until, abs=0.5)


async def test_headroom_learned_by_one_host_steers_every_host(prefix: str) -> None:
    async with hosts(prefix, 2) as (one, two):
        await one.apply("b", "k1", 200, window(remaining=5))
        await one.apply("b", "k2", 200, window(remaining=80))
        assert await two.choose("b", ["k1", "k2"]) == "k2"
        accounts = {account.credential: account for account in await two.snapshot()}
        assert accounts["k1"].headroom == pytest.approx(0.05) and accounts["k2"].headroom == pytest.approx(0.8)
        assert accounts["k2"].in_flight == 1 and accounts["k2"].chosen == 1
        await one.apply("b", "k2", 200, window(remaining=0, reset="30s"))
        assert await two.choose("b", ["k1", "k2"]) == "k1", "k2's window is at 0 until its reset"


async def test_in_flight_counts_are_shared_and_break_ties(prefix: str) -> None:
    async with hosts(prefix, 2) as (one, two):
        assert await one.choose("b", ["k1", "k2"], request_id="r1") == "k1"
        assert await two.choose("b", ["k1", "k2"], request_id="r2") == "k2", "k1 is busy on the other host"
        await one.settle("r1", "b", "k1", 200, {})
        assert await two.choose("b", ["k1", "k2"], request_id="r3") == "k1"


async def test_the_lua_choice_follows_the_local_pool_rules(prefix: str) -> None:
    """The same answers fed to a local Pool and to the shared state give the same choices."""
    answers = [("k1", 200, window(40)), ("k2", 200, window(60)), ("k3", 401, {}), ("k2", 429, {"retry-after": "9"}),
               ("k1", 200, window(0, reset="5s")), ("k3", 200, window(90))]
    pool = Pool()
    async with hosts(prefix, 1) as (shared,):
        for credential, status, headers in answers:
            pool.apply("b", credential, status, headers, time.time())
            await shared.apply("b", credential, status, headers)
            for exclude in ((), ("k3",), ("k1", "k3")):
                local = pool.choose("b", ["k1", "k2", "k3"], time.time(), exclude)
                assert await shared.choose("b", ["k1", "k2", "k3"], exclude) == local, (credential, status, exclude)
                if local is not None:
                    pool.release("b", local)
                    await shared.settle("", "b", local, 200, {})
                    pool.apply("b", local, 200, {}, time.time())


async def test_a_dead_instance_in_flight_counts_expire(prefix: str) -> None:
    async with hosts(prefix, 1) as (survivor,), hosts(prefix, 1, heartbeat=0.1, first=1) as (doomed,):
        assert await doomed.choose("b", ["k1", "k2"], request_id="r1") == "k1"
        client = aioredis.Redis.from_url(REDIS, decode_responses=True)
        try:
            assert await client.hgetall(Keys(prefix, "host-1").in_flight) == {"b\nk1": "1"}
            for task in doomed._tasks:  # the heartbeat stops, as it does with a SIGKILLed process
                task.cancel()
            assert await survivor.choose("b", ["k1", "k2"]) == "k2", "k1 is still held"
            deadline = time.monotonic() + 5
            while await client.exists(Keys(prefix, "host-1").in_flight):
                assert time.monotonic() < deadline, "the dead instance's in-flight counts never expired"
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()
        assert await survivor.choose("b", ["k1", "k3"]) == "k1", "nothing holds k1 any more"


async def test_redis_cut_falls_back_to_local_state_and_merges_back(prefix: str) -> None:
    proxy = TcpProxy("127.0.0.1", 6379)
    await proxy.start()
    modes: list[tuple[str, str]] = []
    async with hosts(prefix, 1, url=proxy.url, modes=modes) as (cut,), hosts(prefix, 1, first=1) as (other,):
        assert modes == [("host-0", SHARED)]
        await proxy.cut()
        # Nothing fails: the choice is made locally, once Redis is seen to be gone.
        assert await cut.choose("b", ["k1", "k2"], request_id="r1") == "k1"
        assert cut.mode() == DEGRADED and modes[-1] == ("host-0", DEGRADED)
        await cut.settle("r1", "b", "k1", 429, {"retry-after": "30"})
        assert await cut.choose("b", ["k1", "k2"]) == "k2"
        assert ("b", "k1") not in await other.unavailable(), "the other host cannot know yet"
        await proxy.restore()
        deadline = time.monotonic() + 10
        while cut.mode() != SHARED:
            assert time.monotonic() < deadline, "never re-synced"
            await asyncio.sleep(0.05)
        assert ("b", "k1") in await other.unavailable(), "the cooldown learned alone was merged in"
        accounts = {account.credential: account for account in await other.snapshot()}
        assert accounts["k2"].in_flight == 1, "the choice made alone is counted after the re-sync"
        assert modes.count(("host-0", DEGRADED)) == 1, "logged and reported once"
    await proxy.stop()


async def test_a_429_one_host_saw_is_pushed_to_the_other_hosts_availability_watchers(prefix: str) -> None:
    """What keeps a frontend's lone-credential fast path right: its pool_service pushes another host's cooldown."""
    watched = RedisPoolState(ClusterConfig(redis=REDIS, instance="watched", prefix=prefix, heartbeat_seconds=0.2))
    availability = Availability(watched)
    queue = Queue(watched, max_seconds=1, max_depth=1)

    def changed(backend: str) -> None:  # as PoolServicer.changed_elsewhere
        queue.changed(backend)
        availability.publish_soon()

    await watched.start(changed)
    stopping = asyncio.Event()
    try:
        async with hosts(prefix, 1) as (seen,):
            changes = availability.changes(stopping)
            assert await anext(changes) == {}
            following = asyncio.ensure_future(anext(changes))
            await seen.apply("lone", "only", 429, {"retry-after": "30"}, chosen=True)
            pushed = await asyncio.wait_for(following, 5)
            assert set(pushed) == {("lone", "only")} and 28 < pushed[("lone", "only")] - time.time() <= 30.5
            stopping.set()
            assert await anext(changes, None) is None, "the watch ends when stopping"
    finally:
        await watched.close()


async def test_the_queue_depth_is_every_live_instances_summed_and_a_stopped_one_leaves_it(prefix: str) -> None:
    async with hosts(prefix, 2, heartbeat=0.1) as (one, two), hosts(prefix, 1, heartbeat=0.1, first=2) as (three,):
        # Every host's requests wait: the one credential recovers in 20 s, within the queues' 30 s.
        await one.apply("busy", "only", 429, {"retry-after": "20"}, chosen=True)
        queues = [Queue(state, max_seconds=30, max_depth=5) for state in (one, two, three)]
        waiting = [asyncio.ensure_future(queue.acquire("busy", ["only"], request_id=f"{index}-{count}"))
                   for index, (queue, count) in enumerate(((queues[0], 1), (queues[1], 2), (queues[1], 3)))]
        waiting.append(asyncio.ensure_future(queues[2].acquire("busy", ["only"], request_id="2-4")))
        await asyncio.sleep(0.05)
        assert [queue.depth for queue in queues] == [1, 2, 1]
        await asyncio.sleep(0.35)  # a few heartbeats: each host has told the others its depth
        expected = {"host-0": 1, "host-1": 2, "host-2": 1}
        for state in (one, two, three):
            assert await state.queue_depths() == expected
        await three.close()  # a clean stop removes its part at once
        assert await one.queue_depths() == {"host-0": 1, "host-1": 2}
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        assert [queue.depth for queue in queues[:2]] == [0, 0]
        # this host's own depth is always the current one; the other's arrives with its next heartbeat
        assert (await one.queue_depths())["host-0"] == 0
        await asyncio.sleep(0.35)
        assert await one.queue_depths() == {"host-0": 0, "host-1": 0}


async def test_an_instance_that_died_without_stopping_leaves_the_queue_depth_when_its_heartbeats_expire(
        prefix: str) -> None:
    async with hosts(prefix, 1, heartbeat=0.1) as (alive,):
        dead = RedisPoolState(ClusterConfig(redis=REDIS, instance="dead", prefix=prefix, heartbeat_seconds=0.1))
        await dead.start(lambda backend: None)
        dead.note_queue_depth(4)
        await asyncio.sleep(0.25)
        assert await alive.queue_depths() == {"host-0": 0, "dead": 4}
        for task in dead._tasks:  # it stops beating, as a killed process would, and never says goodbye
            task.cancel()
        await asyncio.gather(*dead._tasks, return_exceptions=True)
        await asyncio.sleep(0.1 * 3 + 0.2)  # BEATS_TO_LIVE heartbeats, and a margin
        assert await alive.queue_depths() == {"host-0": 0}
        await dead.client.aclose()


async def test_a_host_started_while_redis_is_away_serves_from_local_state_and_joins_when_it_comes(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = TcpProxy("127.0.0.1", 6379)
    await proxy.start()
    await proxy.cut()  # the port is known, nothing listens on it
    modes: list[tuple[str, str]] = []
    async with hosts(prefix, 1, url=proxy.url, modes=modes) as (late,), hosts(prefix, 1, first=1) as (other,):
        assert late.mode() == DEGRADED and modes == [("host-0", DEGRADED)]
        assert await late.choose("b", ["k1", "k2"], request_id="r1") == "k1"
        assert await late.choose("b", ["k1", "k2"], request_id="r2") == "k2"
        await proxy.restore()
        deadline = time.monotonic() + 10
        while late.mode() != SHARED:
            assert time.monotonic() < deadline, "never joined"
            await asyncio.sleep(0.05)
        assert {account.credential: account.in_flight for account in await other.snapshot()} == {"k1": 1, "k2": 1}
    await proxy.stop()
    warnings = [record for record in caplog.records if "unreachable" in record.getMessage()]
    assert len(warnings) == 1 and "pool state is this host's own" in warnings[0].getMessage()


async def test_a_step_redis_refuses_is_decided_locally_and_redis_stays_in_use(prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS)
    try:
        async with hosts(prefix, 1) as (state,):
            await client.set(Keys(prefix, "").credential("b", "k1"), "not a hash")  # WRONGTYPE for every script
            assert await state.choose("b", ["k1", "k2"], request_id="r1") == "k1"  # from the local pool
            assert state.mode() == SHARED
            assert await state.choose("c", ["k1"], request_id="r2") == "k1"
            assert {account.backend for account in await state.snapshot()} == {"c"}, "still read from Redis"
    finally:
        await client.aclose()


async def test_the_fallback_knows_what_other_hosts_learned_up_to_the_last_heartbeat(prefix: str) -> None:
    proxy = TcpProxy("127.0.0.1", 6379)
    await proxy.start()
    async with hosts(prefix, 1, url=proxy.url) as (cut,), hosts(prefix, 1, first=1) as (other,):
        await other.apply("b", "k1", 429, {"retry-after": "30"})
        await other.apply("b", "k2", 200, window(remaining=10))
        deadline = time.monotonic() + 10
        while cut.pool.state("b", "k1").cooldown_until < time.time() + 20:  # copied at cut's next heartbeat
            assert time.monotonic() < deadline, "the heartbeat never copied the shared state"
            await asyncio.sleep(0.05)
        await proxy.cut()
        assert await cut.choose("b", ["k1", "k2", "k3"]) == "k3", "k1 cools down, k2 has 10% left: from memory"
        assert cut.mode() == DEGRADED
    await proxy.stop()


async def test_answers_applied_in_a_batch_reach_redis_together_at_its_end(prefix: str) -> None:
    async with hosts(prefix, 2) as (one, two):
        assert await one.choose("b", ["k1", "k2"], request_id="r1") == "k1"
        async with one.batch():
            assert await one.settle("r1", "b", "k1", 429, {"retry-after": "30"})
            await one.apply("b", "k2", 200, window(remaining=7), chosen=True)
            assert ("b", "k1") not in await two.unavailable(), "held until the batch ends"
        assert ("b", "k1") in await two.unavailable()
        accounts = {account.credential: account for account in await two.snapshot()}
        assert accounts["k1"].in_flight == 0 and accounts["k2"].headroom == pytest.approx(0.07)
        assert accounts["k2"].chosen == 1 and accounts["k1"].last_status == 429
