"""The Pool gRPC servicer: Acquire (the queue) on the request path, Report for outcomes, Accounts, Analytics.

Thin: each RPC calls the queue, the answers or the analytics store and converts (conversions.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import TypeVar

import grpc
from grpc.aio import ServicerContext

from dario.config import Config
from dario.json_types import JsonObject
from dario.v1 import pool_pb2, pool_pb2_grpc
from pool_service import conversions
from pool_service.analytics import AnalyticsStore
from pool_service.answers import Answers, Availability, summary
from pool_service.queue import Queue, Refused
from pool_service.recent import RecentError, recent
from pool_service.reports import FILTERS, pool_windows, report
from pool_service.selection import Pool
from pool_service.state import PoolState, as_state
from pool_service.timeline import TimelineError, timeline

log = logging.getLogger(__name__)
DEFAULT_REPORT_WINDOW = 3600.0
DEFAULT_PAGE = 50
T = TypeVar("T")


async def until_stopping(iterator: AsyncIterator[T], stopping: asyncio.Event) -> AsyncIterator[T]:
    """Yields from iterator until it ends or stopping is set (whatever was not yet read is resent by the client)."""
    stop = asyncio.ensure_future(stopping.wait())
    following: asyncio.Future[T] | None = None
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


class PoolServicer(pool_pb2_grpc.PoolServicer):
    """Thin: each RPC calls the pool's queue, answers, availability or the analytics store, and converts."""

    def __init__(
        self, store: AnalyticsStore, config: Config, stopping: asyncio.Event | None = None,
        pool: Pool | PoolState | None = None,
    ) -> None:
        self.store = store
        self.cluster_analytics = config.cluster.postgres  # reports read every instance's rows there when set
        self.stopping = stopping or asyncio.Event()
        self.state = as_state(pool or Pool())
        self.queue = Queue(self.state, config.pools.queue_seconds, config.pools.queue_depth)
        self.availability = Availability(self.state)
        self.answers = Answers(self.state, self.queue, self.availability)

    @property
    def pool(self) -> Pool:
        """The pool in this process (with a shared state, the copy it falls back on)."""
        return self.state.pool

    async def start(self) -> None:
        """Starts the pool state's background work: changes made on other hosts wake this one's queue and
        watchers (a no-op for the local state)."""
        await self.state.start(self.changed_elsewhere)

    def changed_elsewhere(self, backend: str) -> None:
        self.queue.changed(backend)
        self.availability.publish_soon()

    async def Acquire(
        self,
        request: pool_pb2.AcquireRequest,
        context: ServicerContext[pool_pb2.AcquireRequest, pool_pb2.AcquireResponse],
    ) -> pool_pb2.AcquireResponse:
        backend, candidates = request.backend, list(request.candidates)
        if not backend:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "backend must not be empty")
        if not candidates:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"backend {backend!r} has no credentials; add one with `dario accounts add`",
            )
        tried = [conversions.answer_from_attempt(attempt) for attempt in request.tried]
        await self.answers.attempts(request.request_id, backend, tried)
        try:
            granted = await self.queue.acquire(backend, candidates, request.request_id,
                                               {attempt.credential for attempt in tried}, summary(tried),
                                               context.time_remaining())
        except Refused as refused:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(refused),
                                trailing_metadata=conversions.retry_after_metadata(refused.retry_after))
        return conversions.granted_to_proto(granted)

    async def Report(
        self,
        request_iterator: AsyncIterator[pool_pb2.ReportRequest],
        context: ServicerContext[pool_pb2.ReportRequest, pool_pb2.ReportResponse],
    ) -> AsyncIterator[pool_pb2.ReportResponse]:
        async for batch in until_stopping(request_iterator, self.stopping):
            async with self.state.batch():  # with Redis: the batch's answers in one round trip
                for outcome in batch.outcomes:
                    await self.answers.outcome(outcome.request_id, outcome.backend,
                                               conversions.answer_from_outcome(outcome), outcome.acquired)
            await self.availability.answered()
            try:
                await self.store.write([conversions.row_from_outcome(outcome) for outcome in batch.outcomes])
            except OSError as error:
                # Not acknowledged: the frontend keeps the batch and sends it again.
                await context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
            yield pool_pb2.ReportResponse(sequence=batch.sequence)

    async def WatchAvailability(
        self,
        request: pool_pb2.WatchAvailabilityRequest,
        context: ServicerContext[pool_pb2.WatchAvailabilityRequest, pool_pb2.WatchAvailabilityResponse],
    ) -> AsyncIterator[pool_pb2.WatchAvailabilityResponse]:
        """Pushes the unavailable credentials now and after every change, until stopping."""
        async for unavailable in self.availability.changes(self.stopping):
            yield conversions.availability_to_proto(unavailable)

    async def Accounts(
        self,
        request: pool_pb2.AccountsRequest,
        context: ServicerContext[pool_pb2.AccountsRequest, pool_pb2.AccountsResponse],
    ) -> pool_pb2.AccountsResponse:
        here, by_instance = self.queue.depth, await self.state.queue_depths()
        return pool_pb2.AccountsResponse(
            accounts=[conversions.account_to_proto(account) for account in await self.state.snapshot()],
            queue_depth=sum(by_instance.values()) if by_instance else here, queue_depth_here=here,
            queue_depth_by_instance=by_instance,
        )

    async def Analytics(
        self,
        request: pool_pb2.AnalyticsRequest,
        context: ServicerContext[pool_pb2.AnalyticsRequest, pool_pb2.AnalyticsResponse],
    ) -> pool_pb2.AnalyticsResponse:
        """The analytics report; the forecast uses the pools' rate-limit windows as they are now."""
        now = time.time()
        window = request.window_seconds if request.window_seconds > 0 else DEFAULT_REPORT_WINDOW
        windows = pool_windows(await self.state.snapshot())
        filters = {name: getattr(request, name) for name in FILTERS if getattr(request, name)}
        try:
            built = await asyncio.to_thread(self._report, now, window, windows, list(request.by), filters)
        except ValueError as error:  # an unknown grouping: the caller's mistake, named
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except OSError as error:  # the cluster's PostgreSQL away for a report only it can make
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
        return conversions.report_to_proto(built)

    def _report(self, now: float, window: float, windows: list[JsonObject], by: list[str],
                filters: dict[str, str]) -> JsonObject:
        """The cluster's report from PostgreSQL with [cluster] postgres, else (or while PostgreSQL does not answer,
        unless the report asks for instances) this host's, from its SQLite; the report's source says which."""
        if self.cluster_analytics:
            from pool_service.analytics_postgres import ReportUnavailable, reading

            try:
                with reading(self.cluster_analytics) as reader:
                    return report(reader, now, window, windows, by, filters)
            except ReportUnavailable as error:
                if filters.get("instance") or "instance" in (name.strip().lower() for name in by):
                    raise
                log.warning("%s: reporting this instance's analytics only", error)
        return report(self.store.path, now, window, windows, by, filters)

    async def Summary(
        self,
        request: pool_pb2.SummaryRequest,
        context: ServicerContext[pool_pb2.SummaryRequest, pool_pb2.SummaryResponse],
    ) -> pool_pb2.SummaryResponse:
        return conversions.summary_to_proto(await asyncio.to_thread(self.store.totals))

    async def Timeline(
        self,
        request: pool_pb2.TimelineRequest,
        context: ServicerContext[pool_pb2.TimelineRequest, pool_pb2.TimelineResponse],
    ) -> pool_pb2.TimelineResponse:
        """Issue 14: traffic per time bucket, aggregated in SQL on a reader thread."""
        window = request.window_seconds if request.window_seconds > 0 else DEFAULT_REPORT_WINDOW
        try:
            built = await asyncio.to_thread(timeline, self.store.path, time.time(), window, request.bucket_seconds,
                                            request.by or "backend")
        except TimelineError as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        return conversions.timeline_to_proto(built)

    async def RecentRequests(
        self,
        request: pool_pb2.RecentRequestsRequest,
        context: ServicerContext[pool_pb2.RecentRequestsRequest, pool_pb2.RecentRequestsResponse],
    ) -> pool_pb2.RecentRequestsResponse:
        """Issue 14: one page of the latest requests, filtered and paged in SQL on a reader thread."""
        try:
            page = await asyncio.to_thread(recent, self.store.path, conversions.recent_filters(request),
                                           request.limit or DEFAULT_PAGE, request.offset)
        except RecentError as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        return pool_pb2.RecentRequestsResponse(requests=[conversions.recorded_to_proto(row) for row in page.rows],
                                               total=page.total)

    async def Prices(
        self,
        request: pool_pb2.PricesRequest,
        context: ServicerContext[pool_pb2.PricesRequest, pool_pb2.PricesResponse],
    ) -> pool_pb2.PricesResponse:
        """Issue 14: the prices the analytics writer applies."""
        return conversions.prices_to_proto(self.store.pricing.table())
