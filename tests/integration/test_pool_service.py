"""pool_service for real over its socket: failover on Acquire, the bounded queue, deadlines, cancellation, Accounts.

The service runs with [pools] queue_seconds = 2 and queue_depth = 3; each test uses a backend of its own.
"""

from __future__ import annotations

import asyncio
import pathlib
import time
from collections.abc import AsyncIterator, Iterator

import grpc
import pytest

from dario.enums import ACCOUNT_STATUSES
from dario.testing.processes import running_module
from dario.v1 import pool_pb2, pool_pb2_grpc

pytestmark = pytest.mark.timeout(60)
QUEUE_SECONDS = 2
QUEUE_DEPTH = 3


@pytest.fixture(scope="module")
def socket_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pathlib.Path]:
    home = tmp_path_factory.mktemp("dario") / "home"
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text(f"[pools]\nqueue_seconds = {QUEUE_SECONDS}\nqueue_depth = {QUEUE_DEPTH}\n")
    path = home / "run" / "pool.sock"
    with running_module("pool_service", home, path):
        yield path


@pytest.fixture
async def stub(socket_path: pathlib.Path) -> AsyncIterator[pool_pb2_grpc.PoolAsyncStub]:
    async with grpc.aio.insecure_channel(f"unix:{socket_path}") as channel:
        yield pool_pb2_grpc.PoolStub(channel)


def rate_limited(credential: str, retry_after: str = "30", **headers: str) -> pool_pb2.Attempt:
    return pool_pb2.Attempt(
        credential=credential, status=429, headers={"retry-after": retry_after, **headers}, error_type="rate_limited"
    )


async def accounts(stub: pool_pb2_grpc.PoolAsyncStub, backend: str) -> dict[str, pool_pb2.AccountState]:
    answer = await stub.Accounts(pool_pb2.AccountsRequest(), timeout=5)
    return {account.credential: account for account in answer.accounts if account.backend == backend}


async def wait_for_queue_depth(stub: pool_pb2_grpc.PoolAsyncStub, depth: int, deadline_seconds: float = 5.0) -> None:
    deadline = time.monotonic() + deadline_seconds
    while (await stub.Accounts(pool_pb2.AccountsRequest(), timeout=5)).queue_depth != depth:
        assert time.monotonic() < deadline, f"queue depth never reached {depth}"
        await asyncio.sleep(0.02)


async def exhausted(call: grpc.aio.UnaryUnaryCall) -> tuple[str, str | None]:
    """Awaits a call that must fail RESOURCE_EXHAUSTED; returns its message and retry-after."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    message = caught.value.details()
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, message
    assert message is not None
    return message, dict(caught.value.trailing_metadata()).get("retry-after")


async def cool_down(stub: pool_pb2_grpc.PoolAsyncStub, backend: str, credentials: list[str], retry_after: str) -> None:
    """Puts every credential in cooldown through one Acquire that tried them all (and so fails at once)."""
    request = pool_pb2.AcquireRequest(
        backend=backend,
        candidates=credentials,
        tried=[rate_limited(credential, retry_after) for credential in credentials],
    )
    message, _ = await exhausted(stub.Acquire(request, timeout=5))
    assert "was tried" in message


async def test_a_429_in_tried_moves_the_request_to_another_credential(stub: pool_pb2_grpc.PoolAsyncStub) -> None:
    candidates = ["k1", "k2"]
    first = await stub.Acquire(pool_pb2.AcquireRequest(backend="failover", candidates=candidates), timeout=5)
    assert first.credential == "k1"
    retried = await stub.Acquire(
        pool_pb2.AcquireRequest(backend="failover", candidates=candidates, tried=[rate_limited("k1")]), timeout=5
    )
    assert (retried.credential, retried.queued_ms) == ("k2", 0)
    # k1 rests, so a new request goes to k2 as well.
    fresh = await stub.Acquire(pool_pb2.AcquireRequest(backend="failover", candidates=candidates), timeout=5)
    assert fresh.credential == "k2"


async def test_every_credential_tried_fails_at_once_with_their_answers(stub: pool_pb2_grpc.PoolAsyncStub) -> None:
    tried = [rate_limited("k1", "7"), pool_pb2.Attempt(credential="k2", status=503, error_type="upstream_5xx")]
    started = time.monotonic()
    message, retry_after = await exhausted(
        stub.Acquire(pool_pb2.AcquireRequest(backend="tried", candidates=["k1", "k2"], tried=tried), timeout=5)
    )
    assert time.monotonic() - started < 1
    assert message == "every credential of backend 'tried' was tried: k1:429 k2:503"
    assert retry_after is None, "k2 answered 503 and can serve again now"


async def test_a_queued_request_is_served_when_the_cooldown_ends(stub: pool_pb2_grpc.PoolAsyncStub) -> None:
    await cool_down(stub, "queued", ["k1", "k2"], retry_after="1")
    started = time.monotonic()
    answer = await stub.Acquire(pool_pb2.AcquireRequest(backend="queued", candidates=["k1", "k2"]), timeout=5)
    waited = time.monotonic() - started
    assert answer.credential == "k1"
    assert 0.3 < waited < 1.9 and 300 < answer.queued_ms < 1900


async def test_a_queued_retry_waits_for_the_credential_it_did_not_try(stub: pool_pb2_grpc.PoolAsyncStub) -> None:
    def acquire(*tried: pool_pb2.Attempt) -> grpc.aio.UnaryUnaryCall:
        request = pool_pb2.AcquireRequest(backend="retry", candidates=["k1", "k2", "k3"], request_id="r1", tried=tried)
        return stub.Acquire(request, timeout=5)

    await cool_down(stub, "retry", ["k3"], retry_after="1")
    assert (await acquire()).credential == "k1"
    assert (await acquire(rate_limited("k1"))).credential == "k2"
    # k2 answers 429 too: k3 is only cooling down, so the retry waits for it rather than failing. The request
    # lists every attempt so far; k1's is not released or counted a second time.
    answer = await acquire(rate_limited("k1"), rate_limited("k2"))
    assert answer.credential == "k3" and answer.queued_ms > 0
    states = await accounts(stub, "retry")
    assert [(states[name].in_flight, states[name].chosen) for name in ("k1", "k2", "k3")] == [(0, 1), (0, 1), (1, 1)]


async def test_a_full_queue_answers_at_once_with_retry_after(stub: pool_pb2_grpc.PoolAsyncStub) -> None:
    await cool_down(stub, "full", ["k1"], retry_after="1")
    request = pool_pb2.AcquireRequest(backend="full", candidates=["k1"])
    waiting = [asyncio.ensure_future(stub.Acquire(request, timeout=10)) for _ in range(QUEUE_DEPTH)]
    await wait_for_queue_depth(stub, QUEUE_DEPTH)
    started = time.monotonic()
    message, retry_after = await exhausted(stub.Acquire(request, timeout=10))
    assert time.monotonic() - started < 0.5
    assert message == "the only credential of backend 'full' is rate-limited; the queue is full (3)"
    assert retry_after == "1"
    # The queued ones are served once the cooldown ends, and say how long they waited.
    for answer in await asyncio.gather(*waiting):
        assert answer.credential == "k1" and 500 < answer.queued_ms < QUEUE_SECONDS * 1000
    await wait_for_queue_depth(stub, 0)


async def test_a_recovery_past_the_queues_window_answers_at_once(stub: pool_pb2_grpc.PoolAsyncStub) -> None:
    await cool_down(stub, "far", ["k1", "k2"], retry_after="30")
    started = time.monotonic()
    message, retry_after = await exhausted(
        stub.Acquire(pool_pb2.AcquireRequest(backend="far", candidates=["k1", "k2"]), timeout=10))
    assert time.monotonic() - started < 0.5  # no point holding the client for a reset 30 s away
    assert "all 2 credentials of backend 'far' are rate-limited; the first recovers in" in message
    assert retry_after is not None and 25 <= int(retry_after) <= 30


async def test_queued_requests_give_up_after_queue_seconds_with_retry_after(stub: pool_pb2_grpc.PoolAsyncStub) -> None:
    await cool_down(stub, "patience", ["k1"], retry_after="1")
    request = pool_pb2.AcquireRequest(backend="patience", candidates=["k1"])
    answer = await stub.Acquire(request, timeout=10)  # recovers within the window: waits, then is served
    assert answer.credential == "k1" and answer.queued_ms > 500


async def test_a_client_deadline_before_the_recovery_answers_at_once(stub: pool_pb2_grpc.PoolAsyncStub) -> None:
    await cool_down(stub, "deadline", ["k1", "k2"], retry_after="2")
    started = time.monotonic()
    message, retry_after = await exhausted(
        stub.Acquire(pool_pb2.AcquireRequest(backend="deadline", candidates=["k1", "k2"]), timeout=0.6)
    )
    assert time.monotonic() - started < 0.5  # the client's own deadline (0.6 s) ends before the 2 s recovery
    assert "all 2 credentials of backend 'deadline' are rate-limited" in message
    assert retry_after is not None and 1 <= int(retry_after) <= 2
    await wait_for_queue_depth(stub, 0)


async def test_cancelled_waiters_leave_the_queue(stub: pool_pb2_grpc.PoolAsyncStub) -> None:
    await cool_down(stub, "cancel", ["k1"], retry_after="2")
    request = pool_pb2.AcquireRequest(backend="cancel", candidates=["k1"])
    calls = [stub.Acquire(request, timeout=10) for _ in range(2)]
    await wait_for_queue_depth(stub, 2)
    for call in calls:
        call.cancel()
    # Well before the cooldown ends, so the waiters left because they were cancelled, not because they were served.
    await wait_for_queue_depth(stub, 0, deadline_seconds=1.0)


async def test_accounts_shows_headroom_windows_status_and_in_flight(stub: pool_pb2_grpc.PoolAsyncStub) -> None:
    candidates = ["k1", "k2"]
    await stub.Acquire(pool_pb2.AcquireRequest(backend="accounts", candidates=candidates, request_id="a1"), timeout=5)
    headers = {
        "x-ratelimit-limit-requests": "100",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "30s",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "500",
        "x-ratelimit-reset-tokens": "2s",
    }
    before = time.time()
    tried = [pool_pb2.Attempt(credential="k1", status=429, headers=headers, error_type="rate_limited")]
    await stub.Acquire(
        pool_pb2.AcquireRequest(backend="accounts", candidates=candidates, request_id="a1", tried=tried), timeout=5
    )
    states = await accounts(stub, "accounts")
    k1, k2 = states["k1"], states["k2"]
    assert (ACCOUNT_STATUSES.name(k1.status), k1.headroom, k1.in_flight, k1.chosen, k1.last_status) == (
        "cooldown", 0, 0, 1, 429)
    assert before + 29 < k1.cooldown_until < time.time() + 31
    assert {(window.name, window.limit, window.remaining) for window in k1.windows} == {
        ("requests", 100, 0),
        ("tokens", 1000, 500),
    }
    assert all(before < window.reset_at < time.time() + 31 for window in k1.windows)
    assert (ACCOUNT_STATUSES.name(k2.status), k2.headroom, k2.in_flight, k2.chosen, k2.last_status,
            k2.cooldown_until) == ("ok", 1, 1, 1, 0, 0)

    async def outcomes() -> AsyncIterator[pool_pb2.ReportRequest]:
        yield pool_pb2.ReportRequest(
            sequence=1,
            outcomes=[
                pool_pb2.Outcome(
                    request_id="a1",
                    backend="accounts",
                    credential="k2",
                    status=200,
                    acquired=True,
                    rate_limit_headers={
                        "anthropic-ratelimit-requests-limit": "50",
                        "anthropic-ratelimit-requests-remaining": "20",
                        "anthropic-ratelimit-requests-reset": "2099-01-01T00:00:00Z",  # too far ahead: unknown
                    },
                )
            ],
        )

    # Resent (as after a lost acknowledgement): counted once.
    for _ in range(2):
        assert [answer.sequence async for answer in stub.Report(outcomes(), timeout=5)] == [1]
    k2 = (await accounts(stub, "accounts"))["k2"]
    assert (k2.in_flight, k2.last_status, k2.headroom) == (0, 200, 0.4)
    assert [(window.name, window.remaining, window.reset_at) for window in k2.windows] == [("requests", 20, 0)]
