"""The Pool gRPC servicer: Acquire on the request path, Report for outcomes (acknowledged once committed)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import grpc

from dario.v1 import pool_pb2, pool_pb2_grpc
from pool_service.analytics import AnalyticsStore, row_from_outcome
from pool_service.selection import NoCandidates, Selector

log = logging.getLogger(__name__)


async def until_stopping(iterator: AsyncIterator, stopping: asyncio.Event) -> AsyncIterator:
    """Yields from iterator until it ends or stopping is set (whatever was not yet read is resent by the client)."""
    stop = asyncio.ensure_future(stopping.wait())
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


class PoolServicer(pool_pb2_grpc.PoolServicer):
    def __init__(self, store: AnalyticsStore, stopping: asyncio.Event | None = None,
                 selector: Selector | None = None) -> None:
        self.store = store
        self.stopping = stopping or asyncio.Event()
        self.selector = selector or Selector()

    async def Acquire(self, request: pool_pb2.AcquireRequest, context: grpc.aio.ServicerContext):
        if not request.backend:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "backend must not be empty")
        try:
            credential = self.selector.choose(request.backend, list(request.candidates))
        except NoCandidates as error:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"{error}; add one with `dario backend add`")
        return pool_pb2.AcquireResponse(credential=credential)

    async def Report(
        self, request_iterator: AsyncIterator[pool_pb2.ReportRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pool_pb2.ReportResponse]:
        async for batch in until_stopping(request_iterator, self.stopping):
            for outcome in batch.outcomes:
                if outcome.acquired:
                    self.selector.release(outcome.backend, outcome.credential)
            try:
                await self.store.write([row_from_outcome(outcome) for outcome in batch.outcomes])
            except OSError as error:
                # Not acknowledged: the frontend keeps the batch and sends it again.
                await context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
            yield pool_pb2.ReportResponse(sequence=batch.sequence)

    async def Summary(self, request: pool_pb2.SummaryRequest, context: grpc.aio.ServicerContext):
        totals = await asyncio.to_thread(self.store.totals)
        return pool_pb2.SummaryResponse(
            requests=totals.requests,
            input_tokens=totals.input_tokens,
            output_tokens=totals.output_tokens,
            errors=totals.errors,
        )
