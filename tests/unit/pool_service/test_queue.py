"""The queue of Acquire on its own, over a real Pool: served at once, waits for a recovery or a release, refuses
when full, past its window or the client's deadline, and after every credential was tried (with retry-after)."""

from __future__ import annotations

import asyncio
import time

import pytest

from pool_service.queue import DEADLINE_MARGIN, Granted, Queue, Refused
from pool_service.selection import Pool

pytestmark = pytest.mark.timeout(30)


def rest(pool: Pool, backend: str, credential: str, milliseconds: int) -> None:
    """A 429 whose retry-after-ms keeps the credential out that long."""
    pool.apply(backend, credential, 429, {"retry-after-ms": str(milliseconds)}, time.time())


async def test_a_free_credential_is_granted_without_waiting() -> None:
    queue = Queue(Pool(), max_seconds=5, max_depth=2)
    assert await queue.acquire("b", ["k1", "k2"], "r1") == Granted("k1", 0.0)
    assert await queue.acquire("b", ["k1", "k2"], "r2", tried={"k1"}) == Granted("k2", 0.0)
    assert queue.depth == 0


async def test_a_request_waits_for_the_cooldown_to_end() -> None:
    pool = Pool()
    rest(pool, "b", "k1", 300)
    granted = await Queue(pool, max_seconds=5, max_depth=2).acquire("b", ["k1"], "r1")
    assert granted.credential == "k1" and 200 < granted.queued_ms < 4000


def window(remaining: int, reset: str = "20s") -> dict[str, str]:
    return {"x-ratelimit-limit-requests": "100", "x-ratelimit-remaining-requests": str(remaining),
            "x-ratelimit-reset-requests": reset}


async def queued(queue: Queue, depth: int) -> None:
    deadline = time.monotonic() + 5
    while queue.depth != depth:
        assert time.monotonic() < deadline, f"the queue never held {depth}"
        await asyncio.sleep(0.01)


async def test_a_change_of_the_backend_wakes_its_waiters_before_the_reset() -> None:
    pool = Pool()
    pool.apply("b", "k1", 200, window(remaining=0), time.time())  # exhausted for 20 s
    queue = Queue(pool, max_seconds=25, max_depth=2)
    waiting = asyncio.ensure_future(queue.acquire("b", ["k1"], "r1"))
    await queued(queue, 1)
    pool.apply("b", "k1", 200, window(remaining=5), time.time())  # another answer says the window has room
    queue.changed("b")
    granted = await asyncio.wait_for(waiting, 5)
    assert granted.credential == "k1" and granted.queued_ms < 5000 and queue.depth == 0


async def test_a_full_queue_refuses_at_once_with_retry_after() -> None:
    pool = Pool()
    rest(pool, "b", "k1", 1500)
    queue = Queue(pool, max_seconds=5, max_depth=1)
    waiting = asyncio.ensure_future(queue.acquire("b", ["k1"], "r1"))
    await queued(queue, 1)
    with pytest.raises(Refused) as refused:
        await queue.acquire("b", ["k1"], "r2")
    assert str(refused.value) == "the only credential of backend 'b' is rate-limited; the queue is full (1)"
    assert refused.value.retry_after in (1, 2)
    assert (await waiting).credential == "k1"


async def test_a_recovery_past_the_window_refuses_at_once() -> None:
    pool = Pool()
    for credential in ("k1", "k2"):
        rest(pool, "b", credential, 30_000)
    started = time.monotonic()
    with pytest.raises(Refused) as refused:
        await Queue(pool, max_seconds=2, max_depth=5).acquire("b", ["k1", "k2"], "r1")
    assert time.monotonic() - started < 1
    assert "all 2 credentials of backend 'b' are rate-limited; the first recovers in" in str(refused.value)
    assert 29 <= refused.value.retry_after <= 30


async def test_the_clients_deadline_shortens_the_wait() -> None:
    pool = Pool()
    rest(pool, "b", "k1", 2000)
    with pytest.raises(Refused) as refused:
        await Queue(pool, max_seconds=10, max_depth=5).acquire("b", ["k1"], "r1", time_remaining=0.5)
    assert "past the queue's 0s" in str(refused.value)  # 0.5 s less the margin, shown in whole seconds
    assert DEADLINE_MARGIN < 0.5 and refused.value.retry_after == 2


async def test_waiting_past_max_seconds_refuses_with_retry_after() -> None:
    pool = Pool()
    rest(pool, "b", "k1", 300)
    queue = Queue(pool, max_seconds=1, max_depth=5)
    waiting = asyncio.ensure_future(queue.acquire("b", ["k1"], "r1"))
    await queued(queue, 1)
    rest(pool, "b", "k1", 5000)  # a later 429 pushes the recovery past the window the request waits in
    queue.changed("b")
    with pytest.raises(Refused) as refused:
        await asyncio.wait_for(waiting, 5)
    assert str(refused.value) == "the only credential of backend 'b' is rate-limited; waited 1s for one to recover"
    assert 3 <= refused.value.retry_after <= 5 and queue.depth == 0


async def test_every_credential_tried_refuses_with_their_answers() -> None:
    pool = Pool()
    rest(pool, "b", "k1", 7000)
    with pytest.raises(Refused) as refused:
        await Queue(pool, max_seconds=5, max_depth=5).acquire("b", ["k1", "k2"], "r1", tried={"k1", "k2"},
                                                              tried_summary="k1:429 k2:503")
    assert str(refused.value) == "every credential of backend 'b' was tried: k1:429 k2:503"
    assert refused.value.retry_after is None, "k2 answered 503 and can serve again now"


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    pool = Pool()
    rest(pool, "b", "k1", 20_000)
    queue = Queue(pool, max_seconds=25, max_depth=5)
    waiting = asyncio.ensure_future(queue.acquire("b", ["k1"], "r1"))
    await queued(queue, 1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert queue.depth == 0
