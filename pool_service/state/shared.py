"""The pool state several dario hosts share in Redis ([cluster] redis): one Lua script per step (scripts.py), so a
429 one host saw cools the credential down for every host's next choice, and headroom one host learned is used
by all. A local pool is kept alongside as the lease table and the fallback: Redis unreachable, each host goes on
with its own state (logged once, /health degraded) and merges what it learned back when Redis returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from typing import TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from dario.config import ClusterConfig
from dario.config.cluster import shown_url
from pool_service import ratelimit
from pool_service.selection import QUARANTINE_BASE, QUARANTINE_MAX, Account, NoCandidates, Pool
from pool_service.state import DEGRADED, SHARED, Changed, scripts
from pool_service.state.redis_keys import Keys, SharedCredential, local_time, relative_windows, split_field

log = logging.getLogger(__name__)
T = TypeVar("T")

# A credential's hash outlives the last of its windows, cooldowns and quarantines by this long (its counts and
# last status stay visible in /accounts for a while; past its windows its headroom is full anyway).
KEEP_SECONDS = 600
BEATS_TO_LIVE = 3  # an instance's in-flight counts expire this many heartbeats after its last
Mode = Callable[[str], None]  # told SHARED or DEGRADED when that changes
FAILURES = (RedisError, OSError, TimeoutError)


def client_for(cluster: ClusterConfig) -> aioredis.Redis:
    """A client that fails fast (no retries, short timeouts): a slow Redis must not hold a request."""
    return aioredis.Redis.from_url(
        cluster.redis, decode_responses=True, socket_timeout=cluster.redis_timeout_seconds,
        socket_connect_timeout=cluster.redis_timeout_seconds, retry=Retry(NoBackoff(), 0),
        client_name=f"dario-pool-{cluster.instance}",
    )


class RedisPoolState:
    """PoolState in Redis, with a local Pool as lease table and fallback."""

    def __init__(self, cluster: ClusterConfig, client: aioredis.Redis | None = None,
                 on_mode: Mode | None = None) -> None:
        self.cluster = cluster
        self.keys = Keys(cluster.prefix, cluster.instance)
        self.pool = Pool()
        self.client = client or client_for(cluster)
        self.degraded = False
        self.on_mode = on_mode or (lambda mode: None)
        self.ttl_ms = int(cluster.heartbeat_seconds * BEATS_TO_LIVE * 1000)
        self._changed: Changed = lambda backend: None
        self._scripts = {name: self.client.register_script(getattr(scripts, name))
                         for name in ("CHOOSE", "AVAILABLE", "APPLY", "MERGE", "UNAVAILABLE", "SNAPSHOT", "BEAT",
                                      "QUEUES")}
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = asyncio.Event()
        self._batched: list[tuple[list[str], list[str | int | float]]] | None = None  # APPLYs held by batch()
        self._queue_depth = 0  # this host's queue, sent with each heartbeat

    # Lifecycle and degradation

    async def start(self, changed: Changed) -> None:
        self._changed = changed
        await self._shared(self._resync)  # a host restarting mid-outage starts degraded, and says so once
        if not self.degraded:
            self.on_mode(SHARED)
        self._tasks = [asyncio.create_task(self._beat_forever()), asyncio.create_task(self._listen_forever())]

    async def close(self) -> None:
        self._closing.set()
        # The listener ends by itself within a heartbeat (redis-py's pub/sub read may swallow a cancellation).
        await asyncio.wait(self._tasks, timeout=self.cluster.heartbeat_seconds + 1)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(*FAILURES):
            await self.client.delete(self.keys.in_flight)  # a clean stop: our requests are done
            await self.client.hdel(self.keys.queues, self.cluster.instance)
        await self.client.aclose()

    def mode(self) -> str:
        return DEGRADED if self.degraded else SHARED

    def announces_changes(self) -> bool:
        return not self.degraded  # the scripts publish every change of a credential's availability

    @contextlib.asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        if self._batched is not None:  # inside another batch: that one sends
            yield
            return
        self._batched = []
        try:
            yield
        finally:
            held, self._batched = self._batched, None
        if held:
            await self._shared(lambda: self._send(held))

    async def _send(self, held: list[tuple[list[str], list[str | int | float]]]) -> None:
        """The held APPLYs in one pipeline (not a transaction: each script is atomic on its own)."""
        async with self.client.pipeline(transaction=False) as pipeline:
            for keys, args in held:
                await self._scripts["APPLY"](keys=keys, args=args, client=pipeline)
            await pipeline.execute()

    async def _shared(self, step: Callable[[], Awaitable[T]]) -> T | None:
        """step's result, or None (after switching to local state) when Redis does not answer."""
        if self.degraded:
            return None
        try:
            return await step()
        except FAILURES as error:
            self._failed(error)
            return None

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, ResponseError):
            # Redis answered but refused the step (a key of another type under our prefix, a script error): this
            # one step is taken locally; Redis stays in use for the others.
            log.error("Redis refused a pool step (%s); this one is decided from this host's state", error)
        else:
            self._degrade(error)

    def _degrade(self, error: BaseException) -> None:
        if not self.degraded:
            self.degraded = True
            log.warning("Redis at %s unreachable (%s): pool state is this host's own until it returns",
                        shown_url(self.cluster.redis), type(error).__name__)
            self.on_mode(DEGRADED)

    async def _beat_forever(self) -> None:
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.cluster.heartbeat_seconds)
                return
            try:
                if self.degraded:
                    await self._recover()
                else:
                    await self._shared(self._beat)
            except Exception:  # noqa: BLE001 - the heartbeat must outlive any surprise, or the host's counts expire
                log.exception("pool heartbeat failed; trying again at the next one")

    async def _beat(self) -> None:
        """Keeps this instance's in-flight counts alive, and copies what every host learned into the local pool,
        so that should Redis go away the fallback is at most a heartbeat behind the cluster."""
        await self._scripts["BEAT"](keys=[self.keys.instances, self.keys.in_flight, self.keys.queues],
                                    args=[self.cluster.instance, self.ttl_ms, "keep", self._queue_depth])
        for credential in await self._snapshot():
            self.pool.adopt(credential.backend, credential.credential, credential.windows, credential.cooldown_until,
                            credential.exhausted_until, credential.quarantine_until)

    async def _recover(self) -> None:
        try:
            await self._resync()
        except FAILURES:
            return  # still unreachable: try again at the next beat
        self.degraded = False
        log.info("Redis at %s reachable again: pool state shared, this host's view merged in",
                 shown_url(self.cluster.redis))
        self.on_mode(SHARED)
        for backend in {backend for backend, _ in self.pool.states()}:
            self._changed(backend)

    async def _resync(self) -> None:
        """This host's in-flight counts rewritten, and what it learned while alone merged in."""
        pairs = [item for (backend, credential), count in self.pool.in_flight().items()
                 for item in (Keys.field(backend, credential), count)]
        await self._scripts["BEAT"](keys=[self.keys.instances, self.keys.in_flight, self.keys.queues],
                                    args=[self.cluster.instance, self.ttl_ms, "rewrite", self._queue_depth, *pairs])
        now = time.time()
        for (backend, credential), state in list(self.pool.states().items()):
            running = [window for window in state.rate.windows if window.reset_at is not None and window.reset_at > now]
            ends = [max(0.0, end - now)
                    for end in (state.cooldown_until, state.exhausted_until, state.quarantine_until)]
            if not running and not any(ends) and not state.in_flight:
                continue
            try:
                await self._scripts["MERGE"](
                    keys=[self.keys.credential(backend, credential), self.keys.credentials],
                    args=[Keys.field(backend, credential), *ends, relative_windows(running, now), KEEP_SECONDS,
                          self.keys.channel, backend])
            except ResponseError as error:  # that one key is unusable: the others still merge, Redis is back
                log.error("Redis refused the re-sync of %s/%s (%s)", backend, credential, error)

    async def _listen_forever(self) -> None:
        """Changes published by any host wake this host's queue and availability watchers."""
        while not self._closing.is_set():
            listener = aioredis.Redis.from_url(self.cluster.redis, decode_responses=True,
                                               socket_connect_timeout=self.cluster.redis_timeout_seconds,
                                               retry=Retry(NoBackoff(), 0))
            subscription = listener.pubsub()
            try:
                await subscription.subscribe(self.keys.channel)
                while not self._closing.is_set():
                    message = await subscription.get_message(ignore_subscribe_messages=True,
                                                             timeout=self.cluster.heartbeat_seconds)
                    if message is not None and message.get("type") == "message":
                        self._changed(str(message["data"]))
            except FAILURES:
                pass
            finally:
                with contextlib.suppress(*FAILURES):
                    await subscription.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # typed from redis 8.2 on
                    await listener.aclose()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.cluster.heartbeat_seconds)

    # PoolState

    async def choose(self, backend: str, candidates: Sequence[str], exclude: Collection[str] = (),
                     request_id: str = "") -> str | None:
        if not candidates:
            raise NoCandidates(f"backend {backend!r} has no credentials")
        index = await self._shared(lambda: self._choose(backend, candidates, exclude))
        if index is None:
            return self.pool.choose(backend, candidates, time.time(), exclude, request_id)
        if index == 0:
            return None
        chosen = candidates[index - 1]
        self.pool.hold(backend, chosen, request_id)
        return chosen

    async def _choose(self, backend: str, candidates: Sequence[str], exclude: Collection[str]) -> int:
        answer = await self._scripts["CHOOSE"](
            keys=[self.keys.in_flight, self.keys.instances, self.keys.credentials,
                  *(self.keys.credential(backend, credential) for credential in candidates)],
            args=[self.keys.in_flight_prefix, self.ttl_ms, KEEP_SECONDS, self.cluster.instance,
                  *(Keys.field(backend, credential) for credential in candidates),
                  *("1" if credential in exclude else "0" for credential in candidates)])
        return int(answer[0])

    async def available_at(self, backend: str, candidates: Sequence[str],
                           exclude: Collection[str] = ()) -> float | None:
        async def shared() -> float | None:
            now_text, earliest = await self._scripts["AVAILABLE"](
                keys=[self.keys.credential(backend, credential) for credential in candidates],
                args=["1" if credential in exclude else "0" for credential in candidates])
            return None if earliest == "" else local_time(float(earliest), float(now_text))

        if not self.degraded:  # not _shared: None is an answer here (every candidate excluded)
            try:
                return await shared()
            except FAILURES as error:
                self._failed(error)
        return self.pool.available_at(backend, candidates, time.time(), exclude)

    async def settle(self, request_id: str, backend: str, credential: str, status: int,
                     headers: Mapping[str, str]) -> bool:
        if not self.pool.settle(request_id, backend, credential, status, headers, time.time()):
            return False
        await self._shared(lambda: self._apply(backend, credential, status, headers, release=True, chosen=False))
        return True

    async def apply(self, backend: str, credential: str, status: int, headers: Mapping[str, str],
                    chosen: bool = False) -> None:
        self.pool.apply(backend, credential, status, headers, time.time())
        if chosen:
            self.pool.state(backend, credential).chosen += 1
        await self._shared(lambda: self._apply(backend, credential, status, headers, release=False, chosen=chosen))

    async def _apply(self, backend: str, credential: str, status: int, headers: Mapping[str, str],
                     release: bool, chosen: bool) -> None:
        now = time.time()
        observation = ratelimit.parse(headers, now)
        cooldown = ratelimit.cooldown_until(observation, status, now)
        keys = [self.keys.credential(backend, credential), self.keys.in_flight, self.keys.credentials]
        args: list[str | int | float] = [
            Keys.field(backend, credential), "1" if release else "0", status,
            relative_windows(observation.windows, now),
            "" if observation.retry_at is None else max(0.0, observation.retry_at - now),
            "" if cooldown is None else max(0.0, cooldown - now),
            QUARANTINE_BASE, QUARANTINE_MAX, KEEP_SECONDS, "1" if chosen else "0", self.keys.channel, backend]
        if self._batched is not None:
            self._batched.append((keys, args))  # durations measured now: held a moment, they still hold
        else:
            await self._scripts["APPLY"](keys=keys, args=args)

    async def unavailable(self) -> dict[tuple[str, str], float]:
        async def shared() -> dict[tuple[str, str], float]:
            answer = await self._scripts["UNAVAILABLE"](keys=[self.keys.credentials],
                                                        args=[self.keys.credential_prefix])
            now = float(answer[0])
            return {split_field(field): local_time(float(until), now)
                    for field, until in zip(answer[1::2], answer[2::2])}

        result = await self._shared(shared)
        return result if result is not None else self.pool.unavailable(time.time())

    async def snapshot(self) -> list[Account]:
        credentials = await self._shared(self._snapshot)
        if credentials is None:
            return self.pool.snapshot(time.time())
        now = time.time()
        return sorted((credential.account(now) for credential in credentials),
                      key=lambda account: (account.backend, account.credential))

    def note_queue_depth(self, depth: int) -> None:
        self._queue_depth = depth

    async def queue_depths(self) -> dict[str, int]:
        async def shared() -> dict[str, int]:
            answer = await self._scripts["QUEUES"](keys=[self.keys.instances, self.keys.queues],
                                                   args=[self.cluster.instance, self._queue_depth, self.ttl_ms])
            return {str(instance): int(depth) for instance, depth in zip(answer[::2], answer[1::2])}

        return await self._shared(shared) or {}

    async def _snapshot(self) -> list[SharedCredential]:
        answer = json.loads(await self._scripts["SNAPSHOT"](
            keys=[self.keys.credentials, self.keys.instances],
            args=[self.keys.credential_prefix, self.keys.in_flight_prefix]))
        redis_now = float(answer["now"])
        credentials = answer["credentials"] if isinstance(answer["credentials"], dict) else {}  # {} encodes as []
        return [SharedCredential.parse(field, state, redis_now) for field, state in credentials.items()]
