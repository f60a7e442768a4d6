"""The Pool gRPC servicer: Acquire (with the queue) on the request path, Report for outcomes, Accounts."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import grpc

from dario.settings import Settings
from dario.v1 import pool_pb2, pool_pb2_grpc
from pool_service.analytics import AnalyticsStore, row_from_outcome
from pool_service.answers import Answer, Answers, Availability
from pool_service.queue import Queue, Refused
from pool_service.reports import report
from pool_service.selection import Account, Pool

DEFAULT_REPORT_WINDOW = 3600.0


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


def answer_from_attempt(attempt: pool_pb2.Attempt) -> Answer:
    return Answer(attempt.credential, attempt.status, dict(attempt.headers), attempt.error_type, attempt.local)


def answer_from_outcome(outcome: pool_pb2.Outcome) -> Answer:
    return Answer(outcome.credential, outcome.status, dict(outcome.rate_limit_headers), outcome.error_type,
                  outcome.local)


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
    """Thin: each RPC calls the pool's queue, answers, availability or the analytics store, and converts."""

    def __init__(
        self, store: AnalyticsStore, settings: Settings, stopping: asyncio.Event | None = None, pool: Pool | None = None
    ) -> None:
        self.store = store
        self.stopping = stopping or asyncio.Event()
        self.pool = pool or Pool()
        self.queue = Queue(self.pool, settings.queue_seconds, settings.queue_depth)
        self.availability = Availability(self.pool)
        self.answers = Answers(self.pool, self.queue, self.availability)

    async def Acquire(self, request: pool_pb2.AcquireRequest, context: grpc.aio.ServicerContext):
        backend, candidates = request.backend, list(request.candidates)
        if not backend:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "backend must not be empty")
        if not candidates:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"backend {backend!r} has no credentials; add one with `dario accounts add`",
            )
        tried = [answer_from_attempt(attempt) for attempt in request.tried]
        self.answers.attempts(request.request_id, backend, tried, time.time())
        summary = " ".join(f"{attempt.credential}:{attempt.status or attempt.error_type or 0}" for attempt in tried)
        try:
            granted = await self.queue.acquire(backend, candidates, request.request_id,
                                               {attempt.credential for attempt in tried}, summary,
                                               context.time_remaining())
        except Refused as refused:
            metadata = () if refused.retry_after is None else (("retry-after", str(refused.retry_after)),)
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(refused), trailing_metadata=metadata)
        return pool_pb2.AcquireResponse(credential=granted.credential, queued_ms=granted.queued_ms)

    async def Report(
        self, request_iterator: AsyncIterator[pool_pb2.ReportRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pool_pb2.ReportResponse]:
        async for batch in until_stopping(request_iterator, self.stopping):
            now = time.time()
            for outcome in batch.outcomes:
                self.answers.outcome(outcome.request_id, outcome.backend, answer_from_outcome(outcome),
                                     outcome.acquired, now)
            self.availability.publish()
            try:
                await self.store.write([row_from_outcome(outcome) for outcome in batch.outcomes])
            except OSError as error:
                # Not acknowledged: the frontend keeps the batch and sends it again.
                await context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
            yield pool_pb2.ReportResponse(sequence=batch.sequence)

    async def WatchAvailability(self, request: pool_pb2.WatchAvailabilityRequest,
                                context: grpc.aio.ServicerContext) -> AsyncIterator[pool_pb2.AvailabilityResponse]:
        """Pushes the unavailable credentials now and after every change, until stopping."""
        async for unavailable in self.availability.changes(self.stopping):
            yield pool_pb2.AvailabilityResponse(unavailable=[
                pool_pb2.Unavailable(backend=backend, credential=credential, until=until)
                for (backend, credential), until in sorted(unavailable.items())
            ])

    async def Accounts(self, request: pool_pb2.AccountsRequest, context: grpc.aio.ServicerContext):
        return pool_pb2.AccountsResponse(
            accounts=[account_message(account) for account in self.pool.snapshot(time.time())],
            queue_depth=self.queue.depth,
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
