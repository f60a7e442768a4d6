"""The Pool gRPC servicer: Acquire (with the queue) on the request path, Report for outcomes, Accounts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Collection
from typing import NoReturn

import grpc

from dario.config import Config
from dario.v1 import pool_pb2, pool_pb2_grpc
from pool_service.analytics import AnalyticsStore, row_from_outcome
from pool_service.reports import report
from pool_service.selection import Account, Pool

DEFAULT_REPORT_WINDOW = 3600.0
LOCAL_ATTEMPTS_KEPT = 10_000
# A frontend resends at most its unacknowledged outcomes (a journal replay after a kill): far fewer than this.
REPORTED_KEPT = 50_000

log = logging.getLogger(__name__)

# A queued Acquire gives up this long before the client's deadline, so the answer (with retry-after) arrives.
DEADLINE_MARGIN = 0.05
# Timers may fire a hair before a cooldown's wall-clock end; waking this much later avoids a spin.
CLOCK_SLACK = 0.005


async def until_stopping(iterator: AsyncIterator, stopping: asyncio.Event) -> AsyncIterator:
    """Yields from iterator until it ends or stopping is set (whatever was not yet read is resent by the client)."""
    stop = asyncio.ensure_future(stopping.wait())
    following: asyncio.Future | None = None
    try:
        while True:
            following = asyncio.ensure_future(anext(iterator))
            await asyncio.wait({following, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not following.done():
                following.cancel()
                return
            try:
                batch = following.result()
            except StopAsyncIteration:
                return
            yield batch
    finally:
        stop.cancel()
        # Closed while waiting (the client went away mid-stream): the pending read must not outlive the RPC and
        # end later in a StopAsyncIteration nobody retrieves ("Task exception was never retrieved").
        if following is not None:
            if following.done():
                if not following.cancelled():
                    following.exception()
            else:
                following.cancel()


def account_message(account: Account) -> pool_pb2.AccountState:
    return pool_pb2.AccountState(
        backend=account.backend,
        credential=account.credential,
        headroom=account.headroom,
        status=account.status,
        cooldown_until=account.cooldown_until,
        in_flight=account.in_flight,
        windows=[
            pool_pb2.RateWindow(
                name=window.name, limit=window.limit, remaining=window.remaining, reset_at=window.reset_at or 0.0
            )
            for window in account.windows
        ],
        chosen=account.chosen,
        last_status=account.last_status,
    )


class PoolServicer(pool_pb2_grpc.PoolServicer):
    def __init__(
        self, store: AnalyticsStore, config: Config, stopping: asyncio.Event | None = None, pool: Pool | None = None
    ) -> None:
        self.store = store
        self.config = config
        self.stopping = stopping or asyncio.Event()
        self.pool = pool or Pool()
        self.queue_depth = 0
        self._changed: dict[str, asyncio.Event] = {}  # per backend, set (and replaced) when its state changes
        self._unavailable: dict[tuple[str, str], float] = {}  # as last pushed by WatchAvailability
        self._availability_generation = 0
        self._availability_changed = asyncio.Event()  # set (and replaced) when _unavailable changes
        self._local_attempts: dict[tuple[str, str], bool] = {}  # (request id, credential) already applied
        self._reported: dict[str, None] = {}  # request ids whose outcome was applied to the pool, oldest first

    def _notify(self, backend: str) -> None:
        if (event := self._changed.pop(backend, None)) is not None:
            event.set()

    async def Acquire(self, request: pool_pb2.AcquireRequest, context: grpc.aio.ServicerContext):
        backend, candidates = request.backend, list(request.candidates)
        if not backend:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "backend must not be empty")
        if not candidates:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"backend {backend!r} has no credentials; add one with `dario accounts add`",
            )
        now, request_id = time.time(), request.request_id
        for attempt in request.tried:
            if attempt.local:  # chosen by the frontend itself: nothing to release, its answer counted once
                if (request_id, attempt.credential) not in self._local_attempts:
                    self._local_attempts[(request_id, attempt.credential)] = True
                    self.pool.apply(backend, attempt.credential, attempt.status, dict(attempt.headers), now)
                    self._trim_local_attempts()
                continue
            # Only the attempt whose credential the request still holds counts: the others were settled by the
            # Acquire that followed them.
            self.pool.settle(request_id, backend, attempt.credential, attempt.status, dict(attempt.headers), now)
        if request.tried:
            self._publish_availability()
            self._notify(backend)
        tried = {attempt.credential for attempt in request.tried}
        if (credential := self.pool.choose(backend, candidates, now, tried, request_id)) is not None:
            return pool_pb2.AcquireResponse(credential=credential)
        if self.pool.available_at(backend, candidates, now, exclude=tried) is None:
            # Every credential failed this very request: no point waiting, the frontend tries the fallbacks.
            attempts = " ".join(
                f"{attempt.credential}:{attempt.status or attempt.error_type or 0}" for attempt in request.tried
            )
            await self._exhausted(
                context, backend, candidates, (), f"every credential of backend {backend!r} was tried: {attempts}"
            )
        return await self._queue(context, request, tried)

    async def _queue(
        self, context: grpc.aio.ServicerContext, request: pool_pb2.AcquireRequest, tried: set[str]
    ) -> pool_pb2.AcquireResponse:
        """Waits for a candidate to recover, up to queue_seconds and the client's deadline, in a bounded queue."""
        backend, candidates = request.backend, list(request.candidates)
        limited = (
            f"all {len(candidates)} credentials of backend {backend!r} are"
            if len(candidates) > 1
            else f"the only credential of backend {backend!r} is"
        ) + " rate-limited"
        if self.queue_depth >= self.config.pools.queue_depth:
            await self._exhausted(
                context, backend, candidates, tried, f"{limited}; the queue is full ({self.config.pools.queue_depth})"
            )
        remaining = context.time_remaining()
        # Give up a little before the client's deadline, so it gets retry-after rather than a bare timeout.
        wait = (
            self.config.pools.queue_seconds
            if remaining is None
            else min(self.config.pools.queue_seconds, remaining - DEADLINE_MARGIN)
        )
        now = time.time()
        recovers_at = self.pool.available_at(backend, candidates, now, exclude=tried)
        if recovers_at is not None and recovers_at - now > wait:
            # Nothing recovers within the queue's window (a reset minutes away): waiting would only hold the
            # client; it gets the 429 now, with the retry-after that will work.
            await self._exhausted(context, backend, candidates, tried,
                                  f"{limited}; the first recovers in {recovers_at - now:.0f}s, past the queue's "
                                  f"{wait:.0f}s")
        started = time.monotonic()
        self.queue_depth += 1
        try:
            while (left := started + wait - time.monotonic()) > 0:
                changed = self._changed.setdefault(backend, asyncio.Event())
                now = time.time()
                recovers_in = (self.pool.available_at(backend, candidates, now, exclude=tried) or now) - now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), min(left, recovers_in + CLOCK_SLACK))
                credential = self.pool.choose(backend, candidates, time.time(), tried, request.request_id)
                if credential is not None:
                    return pool_pb2.AcquireResponse(
                        credential=credential, queued_ms=(time.monotonic() - started) * 1000
                    )
        finally:
            self.queue_depth -= 1
        await self._exhausted(
            context,
            backend,
            candidates,
            tried,
            f"{limited}; waited {time.monotonic() - started:.0f}s for one to recover",
        )

    async def _exhausted(
        self,
        context: grpc.aio.ServicerContext,
        backend: str,
        candidates: list[str],
        exclude: Collection[str],
        message: str,
    ) -> NoReturn:
        """Aborts RESOURCE_EXHAUSTED, with retry-after (whole seconds, at least 1) when a candidate will recover."""
        now = time.time()
        available_at = self.pool.available_at(backend, candidates, now, exclude=exclude)
        metadata = ()
        if available_at is not None and available_at > now:
            metadata = (("retry-after", str(max(1, math.ceil(available_at - now)))),)
        await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, message, trailing_metadata=metadata)

    async def Report(
        self, request_iterator: AsyncIterator[pool_pb2.ReportRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pool_pb2.ReportResponse]:
        async for batch in until_stopping(request_iterator, self.stopping):
            now = time.time()
            for outcome in batch.outcomes:
                if not self._first_report(outcome.request_id):
                    continue  # sent again (requeued, or replayed from the frontend's journal): already counted
                if outcome.local and outcome.credential:
                    self.pool.apply(outcome.backend, outcome.credential, outcome.status,
                                    dict(outcome.rate_limit_headers), now)
                    self.pool.state(outcome.backend, outcome.credential).chosen += 1
                elif outcome.acquired and self.pool.settle(
                    outcome.request_id,
                    outcome.backend,
                    outcome.credential,
                    outcome.status,
                    dict(outcome.rate_limit_headers),
                    now,
                ):
                    self._notify(outcome.backend)
            self._publish_availability()
            try:
                await self.store.write([row_from_outcome(outcome) for outcome in batch.outcomes])
            except OSError as error:
                # Not acknowledged: the frontend keeps the batch and sends it again.
                await context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
            yield pool_pb2.ReportResponse(sequence=batch.sequence)

    def _publish_availability(self) -> None:
        """Wakes the WatchAvailability streams when the set of unavailable credentials (or their ends) changed."""
        current = self.pool.unavailable(time.time())
        if current != self._unavailable:
            self._unavailable = current
            self._availability_generation += 1
            self._availability_changed.set()
            self._availability_changed = asyncio.Event()

    def _first_report(self, request_id: str) -> bool:
        """False for a request id reported recently (analytics dedupes its rows by request id on its own)."""
        if not request_id:
            return True
        if request_id in self._reported:
            return False
        self._reported[request_id] = None
        if len(self._reported) > REPORTED_KEPT:
            self._reported.pop(next(iter(self._reported)))
        return True

    def _trim_local_attempts(self) -> None:
        while len(self._local_attempts) > LOCAL_ATTEMPTS_KEPT:
            self._local_attempts.pop(next(iter(self._local_attempts)))

    async def WatchAvailability(self, request: pool_pb2.WatchAvailabilityRequest,
                                context: grpc.aio.ServicerContext) -> AsyncIterator[pool_pb2.AvailabilityResponse]:
        """Pushes the unavailable credentials now and after every change, until stopping."""
        self._publish_availability()
        while not self.stopping.is_set():
            changed = self._availability_changed
            yield pool_pb2.AvailabilityResponse(unavailable=[
                pool_pb2.Unavailable(backend=backend, credential=credential, until=until)
                for (backend, credential), until in sorted(self._unavailable.items())
            ])
            waits = {asyncio.ensure_future(changed.wait()), asyncio.ensure_future(self.stopping.wait())}
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()

    async def Accounts(self, request: pool_pb2.AccountsRequest, context: grpc.aio.ServicerContext):
        return pool_pb2.AccountsResponse(
            accounts=[account_message(account) for account in self.pool.snapshot(time.time())],
            queue_depth=self.queue_depth,
        )

    async def Analytics(self, request: pool_pb2.AnalyticsRequest, context: grpc.aio.ServicerContext):
        """The analytics report as JSON; the forecast uses the pools' rate-limit windows as they are now."""
        now = time.time()
        accounts = [
            {"backend": account.backend, "credential": account.credential,
             "windows": [{"name": window.name, "limit": window.limit, "remaining": window.remaining,
                          "reset_at": window.reset_at} for window in account.windows]}
            for account in self.pool.snapshot(now)
        ]
        window = request.window_seconds if request.window_seconds > 0 else DEFAULT_REPORT_WINDOW
        document = await asyncio.to_thread(report, self.store.path, now, window, accounts)
        return pool_pb2.AnalyticsResponse(json=json.dumps(document))

    async def Summary(self, request: pool_pb2.SummaryRequest, context: grpc.aio.ServicerContext):
        totals = await asyncio.to_thread(self.store.totals)
        return pool_pb2.SummaryResponse(
            requests=totals.requests,
            input_tokens=totals.input_tokens,
            output_tokens=totals.output_tokens,
            errors=totals.errors,
        )
