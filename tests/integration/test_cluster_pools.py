"""Three dario instances (own DARIO_HOME, ports and processes, one [cluster] config) sharing their pools in the
machine's real Redis, against one scripted upstream enforcing per-key limits in the providers' real headers.

Load is paced (a fixed number of requests at a fixed rate, bounded) and spread round-robin over the instances.
The same runs without sharing (three instances on their own, and one alone) are the comparison. The instances
reach Redis through a TCP proxy the tests can cut, so Redis "goes away" without stopping the machine's server.
Every run of this module has its own key prefix and deletes only its own keys.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import pathlib
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import aiohttp
import pytest
import redis

from dario.testing.cluster import Instance, cluster_environment, forget_prefix, running_instance, running_instances
from dario.testing.limited_upstream import KeyLimits
from dario.testing.scripted_upstream import Script, ScriptedUpstream
from dario.testing.tcp_proxy import ThreadedTcpProxy
from pool_service.state.redis_keys import Keys

pytestmark = pytest.mark.timeout(300)
REDIS = "redis://127.0.0.1:6379/0"
RUNS = ("single", "apart", "shared", "oversingle", "overapart", "overshared", "skip", "skipapart", "cut", "slow",
        "after")
CONFIG = "[pools]\nqueue_seconds = 8\nqueue_depth = 100\n[cluster]\nheartbeat_seconds = 0.5\n" + "".join(
    f'[[routes]]\nmatch = "{run}-*"\nbackend = "{run}"\n' for run in RUNS)
LIMITS = {"key-a": 30, "key-b": 20, "key-c": 10}  # per WINDOW seconds: 20 requests per second in all
WINDOW = 3.0
MESSAGES = [{"role": "user", "content": "hi"}]


def key(run: str, name: str) -> str:
    return f"test-key-cluster-{run}-{name}-0123456789"


@pytest.fixture(scope="module")
def limiter(upstream: ScriptedUpstream) -> Iterator[KeyLimits]:
    upstream.limiter = KeyLimits({key(run, name): limit for run in RUNS for name, limit in LIMITS.items()}
                                 | {key("skip", name): 1000 for name in LIMITS}
                                 | {key("skipapart", name): 1000 for name in LIMITS}
                                 | {key("cut", name): 1000 for name in LIMITS}, WINDOW)
    yield upstream.limiter
    upstream.limiter = None


@pytest.fixture(scope="module")
def proxy() -> Iterator[ThreadedTcpProxy]:
    with ThreadedTcpProxy("127.0.0.1", 6379) as running:
        yield running


@pytest.fixture(scope="module")
def prefix() -> Iterator[str]:
    name = f"test-cluster-{uuid.uuid4().hex[:12]}"
    yield name
    forget_prefix(REDIS, name)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, proxy: ThreadedTcpProxy, prefix: str,
           limiter: KeyLimits) -> Iterator[list[Instance]]:
    with running_instances(tmp_path_factory.mktemp("shared"), 3, CONFIG, proxy.url, prefix) as instances:
        for instance in instances:
            assert instance.wait_health({"status": "ok"})["cluster"] == {"pools": "shared"}
        yield instances


@pytest.fixture(scope="module")
def apart(tmp_path_factory: pytest.TempPathFactory, limiter: KeyLimits) -> Iterator[list[Instance]]:
    with running_instances(tmp_path_factory.mktemp("apart"), 3, CONFIG) as instances:
        assert "cluster" not in instances[0].health()
        yield instances


@pytest.fixture
def store() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS, decode_responses=True)
    yield client
    client.close()


def add_pool(instances: Sequence[Instance], run: str, upstream: ScriptedUpstream) -> None:
    """Backend `run` with key-a, key-b and key-c on every instance (the same names everywhere: that is what makes
    them the same credentials across hosts), and waits until each frontend routes to it."""
    for instance in instances:
        before = instance.health().get("backends") or 0
        for name in LIMITS:
            instance.services.add_backend(run, upstream.base_url, key(run, name), credential=name)
        instance.wait_health({"backends": int(str(before)) + 1})


@dataclass
class Load:
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    served_by: collections.Counter[str] = field(default_factory=collections.Counter)

    @property
    def failed(self) -> int:
        return sum(count for status, count in self.statuses.items() if status != 200)


async def paced(urls: Sequence[str], model: str, rate: float, count: int, load: Load | None = None) -> Load:
    """count requests at rate per second (each started on schedule, however long the others take), spread
    round-robin over urls; a connection error counts as status 0."""
    load = load or Load()
    targets = itertools.cycle(urls)
    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def one(url: str) -> None:
            try:
                async with session.post(f"{url}/v1/chat/completions",
                                        json={"model": model, "messages": MESSAGES}) as answer:
                    await answer.read()
                    load.statuses[answer.status] += 1
                    if answer.status == 200:
                        load.served_by[answer.headers.get("x-dario-credential", "")] += 1
            except aiohttp.ClientError:
                load.statuses[0] += 1

        tasks = []
        for index in range(count):
            await asyncio.sleep(max(0.0, started + index / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(next(targets))))
        await asyncio.gather(*tasks)
    return load


def refused(limiter: KeyLimits, run: str) -> int:
    return sum(limiter.refused[key(run, name)] for name in LIMITS)


def shares(load: Load) -> dict[str, float]:
    total = sum(load.served_by.values())
    return {name: round(load.served_by[name] / total, 2) for name in LIMITS}


async def test_sharing_instances_cause_no_more_upstream_429s_than_one_and_split_by_limits(
    shared: list[Instance], apart: list[Instance], upstream: ScriptedUpstream, limiter: KeyLimits
) -> None:
    rate, count = 17.0, 102  # 85% of the keys' 20 per second, for six seconds (two windows)
    add_pool(apart[:1], "single", upstream)
    add_pool(apart, "apart", upstream)
    add_pool(shared, "shared", upstream)
    single = await paced([apart[0].base_url], "single-model", rate, count)
    separate = await paced([instance.base_url for instance in apart], "apart-model", rate, count)
    together = await paced([instance.base_url for instance in shared], "shared-model", rate, count)
    report = {name: (dict(load.statuses), refused(limiter, run), shares(load))
              for name, run, load in (("1 instance", "single", single), ("3 apart", "apart", separate),
                                      ("3 sharing", "shared", together))}
    print(f"client statuses, upstream 429s, shares per key: {report}")
    assert together.statuses == {200: count}, "no client sees a 429 while a key has room"
    # A single instance's own rate of upstream 429s, with a little room for the scheduling of 9 processes on
    # a small machine: sharing must not make the cluster worse than one host.
    assert refused(limiter, "shared") <= refused(limiter, "single") + 2
    split = shares(together)
    assert together.served_by["key-a"] > together.served_by["key-b"] > together.served_by["key-c"] > 0
    for name, expected in zip(LIMITS, (0.5, 0.33, 0.17), strict=True):
        assert abs(split[name] - expected) <= 0.12, f"{name} served {split[name]}, its limit's share is {expected}"


async def test_overloaded_sharing_instances_meet_fewer_upstream_429s_than_instances_apart(
    shared: list[Instance], apart: list[Instance], upstream: ScriptedUpstream, limiter: KeyLimits
) -> None:
    """120% of what the keys allow: requests queue for the resets (no client sees a 429), and the upstream's 429s
    come from choices made on a stale view. Hosts apart learn each key's exhaustion one by one; sharing ones at
    once, about as a single instance does."""
    rate, count = 24.0, 144
    add_pool(apart[:1], "oversingle", upstream)
    add_pool(apart, "overapart", upstream)
    add_pool(shared, "overshared", upstream)
    single = await paced([apart[0].base_url], "oversingle-model", rate, count)
    separate = await paced([instance.base_url for instance in apart], "overapart-model", rate, count)
    together = await paced([instance.base_url for instance in shared], "overshared-model", rate, count)
    report = {name: (dict(load.statuses), refused(limiter, run), shares(load))
              for name, run, load in (("1 instance", "oversingle", single), ("3 apart", "overapart", separate),
                                      ("3 sharing", "overshared", together))}
    print(f"overloaded: client statuses, upstream 429s, shares per key: {report}")
    assert together.statuses == {200: count}
    assert refused(limiter, "overshared") < refused(limiter, "overapart")
    assert refused(limiter, "overshared") <= refused(limiter, "oversingle") + 4


async def test_a_key_that_429s_on_one_instance_is_skipped_by_the_other_two(
    shared: list[Instance], apart: list[Instance], upstream: ScriptedUpstream, limiter: KeyLimits
) -> None:
    for instances, run in ((shared, "skip"), (apart, "skipapart")):
        add_pool(instances, run, upstream)
        limiter.block(key(run, "key-a"), 30)  # key-a answers 429 with retry-after 30
        for instance in instances:  # one request each, one after the other
            load = await paced([instance.base_url], f"{run}-model", 1000, 1)
            assert load.statuses == {200: 1} and "key-a" not in load.served_by
    assert limiter.refused[key("skip", "key-a")] == 1, "only the first instance met key-a's 429"
    assert limiter.refused[key("skipapart", "key-a")] == 3, "without sharing each instance meets it once"


async def wait_all(instances: Sequence[Instance], wanted: dict[str, object]) -> None:
    await asyncio.gather(*(asyncio.to_thread(instance.wait_health, wanted) for instance in instances))


async def test_redis_cut_mid_load_fails_no_request_and_what_was_learned_meanwhile_is_merged_back(
    shared: list[Instance], upstream: ScriptedUpstream, limiter: KeyLimits, proxy: ThreadedTcpProxy,
    prefix: str, store: redis.Redis
) -> None:
    add_pool(shared, "cut", upstream)
    urls = [instance.base_url for instance in shared]
    load = Load()
    running = asyncio.create_task(paced(urls, "cut-model", 12.0, 180, load))  # 15 s of load
    await asyncio.sleep(1.5)
    proxy.cut()
    await wait_all(shared, {"status": "degraded", "cluster": {"pools": "degraded"}})
    limiter.block(key("cut", "key-a"), 30)  # learned by the hosts while each is on its own
    while limiter.refused[key("cut", "key-a")] < 1:
        assert not running.done(), "no host met key-a's 429 during the outage"
        await asyncio.sleep(0.05)
    proxy.restore()
    await wait_all(shared, {"status": "ok", "cluster": {"pools": "shared"}})
    refused_at_return = limiter.refused[key("cut", "key-a")]
    await running
    print(f"Redis cut mid-load: {dict(load.statuses)}, key-a refused {refused_at_return} during the outage")
    assert load.statuses == {200: 180}, "no request failed because Redis went away"
    assert limiter.refused[key("cut", "key-a")] == refused_at_return, "after the re-sync no host tried key-a again"
    seconds, microseconds = store.time()
    cooldown = float(store.hget(Keys(prefix, "").credential("cut", "key-a"), "cooldown_until") or 0)
    assert cooldown > seconds + microseconds / 1e6 + 10, "key-a's cooldown learned alone is in Redis"


async def test_a_sigkilled_instance_leaves_the_others_serving_and_its_in_flight_counts_expire(
    shared: list[Instance], upstream: ScriptedUpstream, limiter: KeyLimits, proxy: ThreadedTcpProxy,
    prefix: str, store: redis.Redis, tmp_path: pathlib.Path
) -> None:
    with running_instance(tmp_path / "doomed", CONFIG, cluster_environment(proxy.url, prefix)) as doomed:
        add_pool([*shared, doomed], "slow", upstream)
        add_pool(shared, "after", upstream)
        upstream.push(*(Script(delay=5.0) for _ in range(3)), model="slow-model")
        held = asyncio.create_task(paced([doomed.base_url] * 3, "slow-model", 1000, 3))
        in_flight = Keys(prefix, doomed.services.config.cluster.instance).in_flight
        deadline = time.monotonic() + 20
        while sum(int(count) for count in store.hgetall(in_flight).values()) < 3:
            assert time.monotonic() < deadline, f"the doomed instance never held 3: {store.hgetall(in_flight)}"
            await asyncio.sleep(0.05)
        others = asyncio.create_task(paced([instance.base_url for instance in shared], "after-model", 10.0, 40))
        await asyncio.sleep(0.5)
        doomed.kill()
        load = await others
        assert (await held).statuses == {0: 3}, "the killed instance's clients lost their connections"
    assert load.statuses == {200: 40}, "the other instances kept serving"
    deadline = time.monotonic() + 10
    while store.exists(in_flight):
        assert time.monotonic() < deadline, "the dead instance's in-flight counts never expired"
        await asyncio.sleep(0.05)
    async with aiohttp.ClientSession() as session, session.get(f"{shared[0].base_url}/accounts") as answer:
        accounts = [account for account in (await answer.json())["accounts"] if account["backend"] == "slow"]
    assert accounts and all(account["in_flight"] == 0 for account in accounts), accounts
