"""Answers applied to the pool once each: attempts listed again, outcomes resent, local choices; availability
published when it changes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator

from pool_service.answers import Answer, Answers, Availability
from pool_service.queue import Queue
from pool_service.selection import Pool


def answers() -> tuple[Answers, Pool]:
    pool = Pool()
    return Answers(pool, Queue(pool, max_seconds=1, max_depth=1), Availability(pool)), pool


async def test_an_attempt_listed_again_is_settled_once() -> None:
    applied, pool = answers()
    now = time.time()
    assert pool.choose("b", ["k1", "k2"], now, request_id="r1") == "k1"
    limited = Answer("k1", 429, {"retry-after": "30"}, "rate_limited")
    await applied.attempts("r1", "b", [limited])
    assert pool.choose("b", ["k1", "k2"], now, {"k1"}, "r1") == "k2"
    await applied.attempts("r1", "b", [limited, Answer("k2", 503, {}, "upstream_5xx")])
    states = {account.credential: account for account in pool.snapshot(now)}
    assert [(states[name].in_flight, states[name].chosen, states[name].last_status) for name in ("k1", "k2")] \
        == [(0, 1, 429), (0, 1, 503)]
    assert applied.availability.unavailable.keys() == {("b", "k1")}


async def test_a_local_attempt_counts_once_per_request() -> None:
    applied, pool = answers()
    now = time.time()
    for _ in range(3):
        await applied.attempts("r1", "solo", [Answer("only", 429, {"retry-after": "5"}, local=True)])
    state = pool.state("solo", "only")
    assert (state.in_flight, state.last_status) == (0, 429)
    assert 4 < state.cooldown_until - now <= 5.1  # applied a moment after now


async def test_a_resent_outcome_is_applied_once() -> None:
    applied, pool = answers()
    now = time.time()
    pool.choose("b", ["k1"], now, request_id="r1")
    pool.choose("b", ["k1"], now, request_id="r2")
    for _ in range(2):
        await applied.outcome("r1", "b", Answer("k1", 200), acquired=True)
    assert pool.state("b", "k1").in_flight == 1, "r2 still holds k1"
    await applied.outcome("local", "solo", Answer("only", 200, local=True), acquired=False)
    await applied.outcome("local", "solo", Answer("only", 200, local=True), acquired=False)
    assert pool.state("solo", "only").chosen == 1


async def test_availability_yields_now_and_after_a_change() -> None:
    applied, _ = answers()
    stopping = asyncio.Event()
    changes = applied.availability.changes(stopping)
    assert isinstance(changes, AsyncGenerator)  # typed AsyncIterator; the test closes it
    assert await anext(changes) == {}
    following = asyncio.ensure_future(anext(changes))
    await applied.attempts("r1", "b", [Answer("k1", 429, {"retry-after": "30"}, local=True)])
    assert set(await asyncio.wait_for(following, 5)) == {("b", "k1")}
    stopping.set()
    await changes.aclose()
