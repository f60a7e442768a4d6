"""Pools end to end: three keys with different limits behind one backend, a scripted upstream that enforces
them and reports them in the providers' real headers, the real services and frontend, the official SDKs.

The goal (README, Pools): no client sees a 429 while any key has room; a key that 429s is cooled down and the
request that met it succeeds on another; when all are exhausted requests queue (bounded) and then get a 429
with retry-after in their API format; a backend that is down is replaced by its route's fallback.
"""

from __future__ import annotations

import asyncio
import collections
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import anthropic
import openai
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from dario.testing.limited_upstream import KeyLimits
from dario.testing.processes import REPO, environment
from dario.testing.scripted_upstream import ScriptedUpstream
from dario.testing.stack import Services, running_frontend, running_services, wait_for_backends
from dario.testing.supervised import free_port
from frontend.state import STATE
from tests.integration.conftest import async_analytics_rows

pytestmark = pytest.mark.timeout(180)
KEYS = {"key-a": "test-key-pool-a-0123456789", "key-b": "test-key-pool-b-0123456789",
        "key-c": "test-key-pool-c-0123456789"}
ANTHROPIC_KEY = "test-key-pool-anthropic-0123456789"
SOLO_KEY = "test-key-pool-solo-0123456789"
MESSAGES = [{"role": "user", "content": "hi"}]
CONFIG = """
[pools]
queue_seconds = 5
queue_depth = 3

[[routes]]
match = "pool-*"
backend = "pool"

[[routes]]
match = "solo-*"
backend = "solo"

[[routes]]
match = "down-*"
backend = "down"
fallbacks = ["anthro:claude-fallback"]
"""
REQUEST_IDS: list[str] = []  # every request the module made, for the analytics check at the end


@pytest.fixture(scope="module")
def limited(upstream: ScriptedUpstream) -> Iterator[ScriptedUpstream]:
    yield upstream
    upstream.limiter = None


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, limited: ScriptedUpstream) -> Iterator[Services]:
    home = tmp_path_factory.mktemp("pools") / "home"
    home.mkdir(mode=0o700, parents=True)
    (home / "config.toml").write_text(CONFIG)
    with running_services(home) as started:
        for name, key in KEYS.items():
            started.add_backend("pool", limited.base_url, key, credential=name)
        started.add_backend("down", f"http://127.0.0.1:{free_port()}/v1", "test-key-down-0123456789")
        started.add_backend("anthro", limited.base_url, ANTHROPIC_KEY, kind="anthropic")
        started.add_backend("solo", limited.base_url, SOLO_KEY)
        yield started


@pytest.fixture
async def frontend(services: Services) -> AsyncIterator[TestServer]:
    async with running_frontend(services.config) as server:
        await wait_for_backends(server, 4)
        yield server


def limits(upstream: ScriptedUpstream, a: int, b: int, c: int, window: float) -> KeyLimits:
    upstream.limiter = KeyLimits({KEYS["key-a"]: a, KEYS["key-b"]: b, KEYS["key-c"]: c}, window)
    return upstream.limiter


def sdk(server: TestServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=str(server.make_url("/v1")), api_key="dario", max_retries=0, timeout=30)


async def ask(client: openai.AsyncOpenAI, model: str = "pool-model") -> tuple[int, dict]:
    try:
        raw = await client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES)
    except openai.APIStatusError as error:
        REQUEST_IDS.append(error.response.headers["request-id"])
        return error.status_code, dict(error.response.headers)
    REQUEST_IDS.append(raw.headers["request-id"])
    return raw.status_code, dict(raw.headers)


async def accounts(server: TestServer) -> dict[str, dict]:
    async with aiohttp.ClientSession() as session, session.get(server.make_url("/accounts")) as answer:
        document = await answer.json()
    return {account["credential"]: account for account in document["accounts"] if account["backend"] == "pool"}


async def scrape_metrics(server: TestServer) -> dict:
    async with aiohttp.ClientSession() as session, session.get(server.make_url("/metrics")) as answer:
        assert answer.status == 200 and answer.content_type == "text/plain"
        text = await answer.text()
    return {family.name: family for family in text_string_to_metric_families(text)}


async def settled(server: TestServer) -> None:
    """Waits until no key of the pool is cooling down from an earlier test."""
    deadline = time.monotonic() + 10
    while any(account["status"] != "ok" for account in (await accounts(server)).values()):
        assert time.monotonic() < deadline, "the pool's keys never recovered"
        await asyncio.sleep(0.1)


async def test_steady_load_spreads_over_the_keys_by_headroom_and_no_client_sees_a_429(
    frontend: TestServer, limited: ScriptedUpstream
) -> None:
    limiter = limits(limited, 30, 20, 10, window=3.0)  # 60 requests per 3 s in all
    client = sdk(frontend)
    statuses: collections.Counter[int] = collections.Counter()
    served_by: collections.Counter[str | None] = collections.Counter()  # by credential name: requests it served
    deadline = time.monotonic() + 6.0

    async def worker() -> None:  # bounded by the deadline
        while time.monotonic() < deadline:
            status, headers = await ask(client)
            statuses[status] += 1
            served_by[headers.get("x-dario-credential")] += status == 200
            await asyncio.sleep(0.25)  # 4 workers: about 13 requests per second, below the 20 the keys allow

    await asyncio.gather(*(worker() for _ in range(4)))
    total = sum(served_by.values())
    shares = {key: round(served_by[key] / total, 2) for key in KEYS}
    print(f"steady load: {dict(statuses)}; served by {dict(served_by)}; shares {shares}; "
          f"upstream 429s {dict(limiter.refused)}")
    assert statuses[429] == 0 and statuses[200] == sum(statuses.values())
    assert served_by["key-a"] > served_by["key-b"] > served_by["key-c"] > 0  # each key's share follows its room
    metrics = await scrape_metrics(frontend)
    requests = metrics["dario_requests"].samples
    assert sum(s.value for s in requests if s.name == "dario_requests_total") == sum(statuses.values())
    assert {s.labels["status"] for s in requests if s.name == "dario_requests_total"} == {"200"}
    headroom = {s.labels["credential"]: s.value for s in metrics["dario_credential_headroom"].samples
                if s.labels["backend"] == "pool"}
    assert set(headroom) == set(KEYS) and all(0 <= value <= 1 for value in headroom.values())
    assert metrics["dario_queue_depth"].samples[0].value == 0
    assert metrics["dario_pool_service_up"].samples[0].value == 1
    latency = [s for s in metrics["dario_request_duration_seconds"].samples if s.name.endswith("_count")]
    assert sum(s.value for s in latency) == sum(statuses.values())
    assert metrics["dario_in_flight_requests"].samples[0].value == 0


async def test_a_pool_with_room_is_chosen_by_the_frontend_without_acquire_and_pool_service_still_learns_each_answer(
    frontend: TestServer, limited: ScriptedUpstream
) -> None:
    await settled(frontend)
    limiter = limits(limited, 1000, 100, 100, window=3.0)
    pool = frontend.app[STATE].pool
    deadline = time.monotonic() + 5
    while pool.unavailable is None:  # the first availability push from pool_service
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    client = sdk(frontend)
    results = [await ask(client) for _ in range(9)]
    assert [status for status, _ in results] == [200] * 9
    assert pool.local_pool_choices == 9  # no Acquire round trip for any of them
    # ranked as pool_service ranks, by the share of each key's limit left: every key serves, key-a (ten times the
    # limit) the most
    served = collections.Counter(headers["x-dario-credential"] for _, headers in results)
    assert set(served) == set(KEYS) and served["key-a"] > served["key-b"] and served["key-a"] > served["key-c"]
    deadline = time.monotonic() + 10
    while not all(any(window["remaining"] < window["limit"] for window in account["windows"])
                  for account in (await accounts(frontend)).values()):  # each answer reached pool_service
        assert time.monotonic() < deadline, f"pool_service never learned the answers: {await accounts(frontend)}"
        await asyncio.sleep(0.05)
    # key-a (the most room) starts refusing: the request that meets it fails over, and no later one tries it
    # again, whether the frontend still distrusts its view or pool_service has pushed the cooldown
    limiter.block(KEYS["key-a"], 2.0)
    later = [await ask(client) for _ in range(6)]
    assert [status for status, _ in later] == [200] * 6
    assert limiter.refused[KEYS["key-a"]] == 1
    assert later[0][1]["x-dario-failover"] == "key-a:429"
    assert all(headers["x-dario-credential"] != "key-a" for _, headers in later)


async def test_a_key_that_starts_answering_429_is_cooled_down_and_the_request_succeeds_on_another(
    frontend: TestServer, limited: ScriptedUpstream
) -> None:
    # Windows an earlier test left must reset first (3 s), or the pool's choices follow them, not this test's.
    deadline = time.monotonic() + 15
    while any(account["headroom"] < 1.0 or account["status"] != "ok"
              for account in (await accounts(frontend)).values()):
        assert time.monotonic() < deadline, "the pool's keys never recovered"
        await asyncio.sleep(0.1)
    # key-c has the smallest limit: once every key has served, it has the least headroom, so a request tries
    # key-a or key-b first and meets their 429 (with equal limits the pool may send everything to key-c and
    # never meet one). 12 leaves key-c room for the warm-up and the six requests below.
    learned = {"key-a": 100, "key-b": 100, "key-c": 12}
    limiter = limits(limited, learned["key-a"], learned["key-b"], learned["key-c"], window=10.0)
    client = sdk(frontend)
    for _ in range(20):  # bounded: from equal headroom, each key serves once within the first three
        if all(limiter.served[secret] for secret in KEYS.values()):
            break
        await ask(client)
    deadline = time.monotonic() + 10
    while any({window["limit"] for window in account["windows"] if window["name"] == "requests"} != {learned[key]}
              for key, account in (await accounts(frontend)).items()):
        assert time.monotonic() < deadline, f"the pool never learned this test's limits: {await accounts(frontend)}"
        await asyncio.sleep(0.05)
    limiter.block(KEYS["key-a"], 5.0)
    limiter.block(KEYS["key-b"], 5.0)
    results = [await ask(client) for _ in range(6)]
    assert [status for status, _ in results] == [200] * 6
    assert {headers["x-dario-credential"] for _, headers in results} == {"key-c"}
    # One request may meet both blocked keys before key-c (which key a request tries first depends on the
    # headroom pool_service has learned so far), so count the failover attempts, not the requests with one.
    failovers = [attempt for _, headers in results for attempt in headers.get("x-dario-failover", "").split()]
    refused = {key for key, secret in KEYS.items() if limiter.refused[secret]}
    assert refused and len(failovers) == sum(limiter.refused.values())  # each 429 was failed over, unseen
    assert sorted(failovers) == sorted(f"{key}:429" for key in refused)
    assert all(limiter.refused[KEYS[key]] == 1 for key in refused)  # then the key was left to cool down
    state = await accounts(frontend)
    assert all(state[key]["status"] == "cooldown" and state[key]["cooldown_until"] > time.time() + 3
               for key in refused)
    assert state["key-c"]["status"] == "ok" and state["key-c"]["windows"]


async def test_all_keys_exhausted_queue_until_the_reset_then_a_full_queue_answers_429_with_retry_after(
    frontend: TestServer, limited: ScriptedUpstream
) -> None:
    await settled(frontend)
    limits(limited, 1, 1, 1, window=2.5)
    client = sdk(frontend)
    for _ in range(3):
        assert (await ask(client))[0] == 200
    await asyncio.sleep(0.3)  # the outcomes (remaining 0 everywhere) reach pool_service
    started = time.monotonic()
    results = await asyncio.gather(*(ask(client) for _ in range(5)))  # 3 may queue, 2 may not
    waited = time.monotonic() - started
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 200, 200, 429, 429]
    refused = [headers for status, headers in results if status == 429]
    assert all(int(headers["retry-after"]) >= 1 for headers in refused)
    assert 1.0 < waited < 5.0  # the queued ones were served after the windows reset, not at once
    async with anthropic.AsyncAnthropic(base_url=str(frontend.make_url("")), api_key="dario",
                                        max_retries=0) as claude:
        limits(limited, 0, 0, 0, window=30.0)
        await ask(client)  # every key now answers 429: cooled down for 30 s
        with pytest.raises(anthropic.RateLimitError) as raised:
            await claude.messages.create(model="pool-model", max_tokens=10, messages=MESSAGES)
    REQUEST_IDS.append(raised.value.response.headers["request-id"])
    assert raised.value.body["type"] == "error" and raised.value.body["error"]["type"] == "rate_limit_error"
    assert int(raised.value.response.headers["retry-after"]) >= 1


async def test_a_backend_that_is_down_is_replaced_by_its_fallback_translated(
    frontend: TestServer, limited: ScriptedUpstream
) -> None:
    limited.limiter = None
    before = len(limited.requests)
    status, headers = await ask(sdk(frontend), model="down-model")
    assert status == 200
    assert headers["x-dario-backend"] == "anthro" and headers["x-dario-fallback-from"] == "down"
    assert headers["x-dario-translation"] == "openai->anthropic"
    [sent] = limited.requests[before:]
    assert sent.path == "/v1/messages" and sent.json["model"] == "claude-fallback"


async def test_a_backend_with_one_credential_is_served_without_a_round_trip_until_it_is_exhausted(
    frontend: TestServer, limited: ScriptedUpstream
) -> None:
    limited.limiter = KeyLimits({SOLO_KEY: 1}, window_seconds=2.0)
    pool = frontend.app[STATE].pool
    deadline = time.monotonic() + 5
    while pool.unavailable is None:  # the first availability push from pool_service
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    client = sdk(frontend)
    assert (await ask(client, "solo-model"))[0] == 200
    assert pool.local_choices == 1  # chosen by the frontend: nothing to choose between
    deadline = time.monotonic() + 5
    while ("solo", "default") not in pool.unavailable:  # the answer said remaining 0: pool_service pushes that
        assert time.monotonic() < deadline, "pool_service never said the exhausted credential is unavailable"
        await asyncio.sleep(0.02)
    started = time.monotonic()
    status, headers = await ask(client, "solo-model")  # through Acquire now: it waits for the window's reset
    assert status == 200 and 0.5 < time.monotonic() - started < 4
    assert pool.local_choices == 1


async def test_analytics_totals_equal_what_the_upstream_counted(services: Services,
                                                                limited: ScriptedUpstream) -> None:
    rows = (await async_analytics_rows(services.home, REQUEST_IDS)).values()
    served = [row for row in rows if row["status"] == 200]
    assert len(served) == limited.served
    assert sum(row["input_tokens"] for row in served) == limited.prompt_tokens
    assert sum(row["output_tokens"] for row in served) == limited.completion_tokens
    failed_over = [row for row in rows if row["failover"]]
    assert failed_over and all(row["attempts"] >= 2 for row in failed_over)
    assert any(row["fallback_from"] == "down" for row in rows)


async def test_analytics_endpoint_and_cli_report_the_same_totals(frontend: TestServer, services: Services) -> None:
    await async_analytics_rows(services.home, REQUEST_IDS)  # every outcome is in
    async with aiohttp.ClientSession() as session:
        async with session.get(frontend.make_url("/analytics"), params={"window": "3600"}) as answer:
            assert answer.status == 200
            report = await answer.json()
        async with session.get(frontend.make_url("/analytics"), params={"window": "soon"}) as answer:
            assert answer.status == 400 and (await answer.json())["error"]["param"] == "window"
    assert report["window"]["requests"] == report["all_time"]["requests"] == len(REQUEST_IDS)
    credentials = {entry["credential"] for entry in report["by_credential"] if entry["backend"] == "pool"}
    credentials.discard("")  # requests refused at the queue never had one
    assert credentials == set(KEYS)
    assert sum(entry["requests"] for entry in report["by_backend"]) == len(REQUEST_IDS)
    assert report["window"]["failovers"] >= 1 and report["window"]["fallbacks"] == 1
    assert any(entry["backend"] == "pool" and entry["window"] == "requests" for entry in report["forecast"])
    cli = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "dario.cli.main", "analytics", "--json"],
        env=environment(services.home), capture_output=True, text=True, timeout=60, cwd=REPO)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["all_time"]["requests"] == len(REQUEST_IDS)
    tables = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "dario.cli.main", "analytics", "--window", "1h"],
        env=environment(services.home), capture_output=True, text=True, timeout=60, cwd=REPO)
    assert tables.returncode == 0 and "key-a" in tables.stdout and "pool" in tables.stdout
