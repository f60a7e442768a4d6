"""GET /metrics in the Prometheus text format: the frontend's own counters and histograms, and the pool's
per-credential state asked of pool_service at scrape time (prometheus_client renders both)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from dario.v1 import pool_pb2
from frontend.bounds import bounded
from frontend.errors import ApiError
from frontend.exchange import Exchange
from frontend.services.pool import PoolClient, call_admin

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# Clients choose model names freely: a model gets a label of its own once a backend served it (a 2xx), if it is
# at most MAX_MODEL_LABEL characters, for the first MAX_MODELS such models; every other request counts as "other".
MAX_MODELS = 100
MAX_MODEL_LABEL = 128
OTHER = "other"


class Metrics:
    """The frontend's metrics, in a registry of its own (several apps in one process stay apart)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("dario_requests", "Client requests by API, backend, model and status",
                                ["api", "backend", "model", "status"], registry=self.registry)
        self.latency = Histogram("dario_request_duration_seconds", "Whole request time, by backend",
                                 ["backend"], buckets=BUCKETS, registry=self.registry)
        self.ttfb = Histogram("dario_time_to_first_byte_seconds", "Time until the first byte went to the client",
                              ["backend"], buckets=BUCKETS, registry=self.registry)
        self.in_flight = Gauge("dario_in_flight_requests", "Client requests being served now",
                               registry=self.registry)
        self.failovers = Counter("dario_failovers", "Upstream attempts that failed over to another credential or "
                                 "backend", ["backend"], registry=self.registry)
        self.fallbacks = Counter("dario_fallbacks", "Requests served by a route's fallback", ["backend"],
                                 registry=self.registry)
        self._models: set[str] = set()
        self.pool_state: list[GaugeMetricFamily] = []
        self.registry.register(self)

    def model_label(self, model: str, served: bool) -> str:
        """The model's own label when known (served before, or now), else "other": bounded size and count."""
        if model in self._models:
            return model
        if len(model) > MAX_MODEL_LABEL:
            return OTHER
        label = bounded(model, MAX_MODEL_LABEL)  # valid UTF-8 (a lone surrogate cannot be rendered)
        if label in self._models or (served and len(self._models) < MAX_MODELS):
            self._models.add(label)
            return label
        return OTHER

    def observe(self, exchange: Exchange) -> None:
        backend = exchange.backend or "none"
        served = bool(exchange.backend) and 200 <= exchange.status < 300
        self.requests.labels(exchange.api_format, backend, self.model_label(exchange.model or "none", served),
                             str(exchange.status or 0)).inc()
        self.latency.labels(backend).observe((exchange.finished or time.perf_counter()) - exchange.started)
        if exchange.first_byte:
            self.ttfb.labels(backend).observe(exchange.first_byte - exchange.started)
        if exchange.attempts > 1:  # moves to another credential or backend: a lone failed attempt is none
            self.failovers.labels(backend).inc(exchange.attempts - 1)
        if exchange.fallback_from:
            self.fallbacks.labels(backend).inc()

    def collect(self) -> Iterator[Metric]:  # a custom collector: the pool's state as it was at the last scrape
        yield from self.pool_state


def pool_families(answer: pool_pb2.AccountsResponse | None) -> list[GaugeMetricFamily]:
    headroom = GaugeMetricFamily("dario_credential_headroom", "Smallest remaining/limit over the credential's "
                                 "rate-limit windows (1 when unknown)", labels=["backend", "credential"])
    in_flight = GaugeMetricFamily("dario_credential_in_flight", "Requests using the credential now",
                                  labels=["backend", "credential"])
    cooling = GaugeMetricFamily("dario_credential_unavailable", "1 while the credential cools down (429), is "
                                "quarantined (401/403) or has an exhausted window", labels=["backend", "credential"])
    queue = GaugeMetricFamily("dario_queue_depth", "Requests waiting in pool_service's queue for a credential")
    up = GaugeMetricFamily("dario_pool_service_up", "1 when pool_service answered this scrape")
    up.add_metric([], 0 if answer is None else 1)
    if answer is not None:
        for account in answer.accounts:
            labels = [account.backend, account.credential]
            headroom.add_metric(labels, account.headroom)
            in_flight.add_metric(labels, account.in_flight)
            cooling.add_metric(labels, 0 if account.status == pool_pb2.ACCOUNT_STATUS_OK else 1)
        queue.add_metric([], answer.queue_depth_here)  # this instance's: a cluster's are summed by the scraper
    return [headroom, in_flight, cooling, queue, up]


async def scrape(metrics: Metrics, pool: PoolClient) -> web.Response:
    """GET /metrics: the frontend's metrics and the pool's state, asked of pool_service now."""
    try:
        answer = await call_admin(pool, pool.stub.Accounts, pool_pb2.AccountsRequest())
    except ApiError:  # a scrape must still show the frontend's own metrics (and pool_service_up 0)
        answer = None
    metrics.pool_state = pool_families(answer)
    return web.Response(body=generate_latest(metrics.registry), headers={"content-type": CONTENT_TYPE_LATEST})
