"""The record of one client request as it goes through the frontend, turned into an analytics Outcome."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from dario.enums import API_FORMATS
from dario.json_types import JsonObject
from dario.v1 import pool_pb2
from frontend import bounds
from frontend.attribution import Attribution
from frontend.translate.estimated_usage import with_estimated_usage
from frontend.usage import NO_USAGE, Usage, usage_from_openai


@dataclass
class Exchange:
    request_id: str
    api_format: str
    started_at: float = field(default_factory=time.time)
    started: float = field(default_factory=time.perf_counter)
    model: str = ""
    stream: bool = False
    backend: str = ""
    credential: str = ""
    acquired: bool = False
    local: bool = False  # the credential was chosen without pool_service (the backend's only one)
    status: int = 0
    error_type: str = ""
    first_byte: float = 0.0
    delivered: bool = False  # the client received the whole answer
    settled: bool = False  # a relay failure was recorded and told to the client: a disconnect after it is no news
    usage: Usage = NO_USAGE
    rate_limit_headers: dict[str, str] = field(default_factory=dict)  # of the final upstream answer
    attempts: int = 0  # upstream attempts made (failovers and fallbacks included)
    failover: list[str] = field(default_factory=list)  # "credential:status" of each attempt that failed over
    fallback_from: str = ""  # the route's first backend, when a fallback served
    queued_ms: float = 0.0
    reply_headers: dict[str, str] = field(default_factory=dict)  # dario's own headers for the client (issue 16)
    finished: float = 0.0  # perf_counter when the handler was done
    bytes_sent: int = 0  # body bytes written to the client
    recorded: bool = False  # handed to the reporter already (a stream, just before its last bytes went out)
    counted_tokens: int = 0  # what a count_tokens request counted (not consumed)
    request_document: JsonObject | None = None  # the client's parsed request (a native answer's usage estimate)
    attribution: Attribution = Attribution()  # client, session, project, tags (frontend.attribution)
    _usage_source: tuple[Callable[[bytes], Usage], bytes] | None = None

    def mark_first_byte(self) -> None:
        if not self.first_byte:
            self.first_byte = time.perf_counter()

    def fail(self, status: int, error_type: str) -> None:
        self.status = status
        self.error_type = error_type

    def settle(self, status: int, error_type: str) -> None:
        self.fail(status, error_type)
        self.settled = True

    def client_gone(self) -> None:
        """The client left: an error unless it had the whole answer (or its failure) already."""
        if not self.delivered and not self.settled:
            self.fail(499, "client_disconnected")

    def finish(self) -> None:
        """Marks the end of the request: the outcome may be built later, off the request path."""
        if not self.finished:
            self.finished = time.perf_counter()

    def read_usage_later(self, reader: Callable[[bytes], Usage], body: bytes) -> None:
        """Usage parsed from a whole body only when the outcome is built (after the client has its answer)."""
        self._usage_source = (reader, body)

    def _estimated(self, body: bytes) -> Usage:
        """A native Chat completion that reported no usage, estimated (translation.md §5.4); parsed only now, after
        the client has its answer."""
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            return self.usage
        if not isinstance(document, dict) or not isinstance(document.get("choices"), list):
            return self.usage
        estimated, _ = with_estimated_usage(document, self.request_document or {})
        usage = usage_from_openai(estimated)
        return replace(usage, estimated=True) if usage is not None else self.usage

    def outcome(self) -> pool_pb2.Outcome:
        """The analytics record; every string bounded (frontend.bounds), so one request cannot outgrow a batch."""
        if self._usage_source is not None:
            reader, body = self._usage_source
            self.usage, self._usage_source = reader(body), None
            if self.usage.input_tokens < 0 and self.usage.output_tokens < 0 and self.api_format == "openai":
                self.usage = self._estimated(body)
        now = self.finished or time.perf_counter()
        return pool_pb2.Outcome(
            request_id=bounds.bounded(self.request_id, bounds.ID_CHARS),
            started_at=self.started_at,
            api_format=API_FORMATS.value(self.api_format),
            backend=bounds.bounded(self.backend, bounds.NAME_CHARS),
            credential=bounds.bounded(self.credential, bounds.NAME_CHARS),
            model=bounds.bounded(self.model, bounds.MODEL_CHARS),
            served_model=bounds.bounded(self.usage.served_model, bounds.MODEL_CHARS),
            status=self.status,
            error_type=bounds.bounded(self.error_type, bounds.ERROR_TYPE_CHARS),
            latency_ms=(now - self.started) * 1000.0,
            ttfb_ms=(self.first_byte - self.started) * 1000.0 if self.first_byte else 0.0,
            input_tokens=self.usage.input_tokens,
            output_tokens=self.usage.output_tokens,
            cache_read_tokens=self.usage.cache_read_tokens,
            reasoning_tokens=self.usage.reasoning_tokens,
            stream=self.stream,
            acquired=self.acquired,
            local=self.local,
            rate_limit_headers=bounds.bounded_headers(self.rate_limit_headers),
            attempts=self.attempts,
            failover=bounds.bounded(" ".join(self.failover), bounds.FAILOVER_CHARS),
            fallback_from=bounds.bounded(self.fallback_from, bounds.NAME_CHARS),
            queued_ms=self.queued_ms,
            cache_write_tokens=self.usage.cache_write_tokens,
            usage_estimated=self.usage.estimated,
            counted_tokens=self.counted_tokens,
            bytes_sent=self.bytes_sent,
            client=bounds.bounded(self.attribution.client, bounds.NAME_CHARS),
            session=bounds.bounded(self.attribution.session, bounds.NAME_CHARS),
            project=bounds.bounded(self.attribution.project, bounds.NAME_CHARS),
            tags=bounds.bounded(self.attribution.tags, bounds.FAILOVER_CHARS),
        )
