"""The record of one request, turned into the analytics Outcome: every field carried, times from the request's
own clock, usage parsed only when the record is built, strings bounded and valid UTF-8, outcomes of failures."""

from __future__ import annotations

import json
import time

from dario.enums import API_FORMATS
from dario.testing import openai_wire
from dario.v1 import pool_pb2
from frontend import bounds
from frontend.exchange import Exchange
from frontend.usage import Usage, openai_usage_from_body


def served_exchange() -> Exchange:
    exchange = Exchange(request_id="req_0123456789abcdef01234567", api_format="anthropic", model="alias", stream=True)
    exchange.backend, exchange.credential = "claude", "work"
    exchange.acquired, exchange.local = True, False
    exchange.status, exchange.attempts, exchange.queued_ms = 200, 3, 12.5
    exchange.failover = ["personal:429", "spare:connection_error"]
    exchange.fallback_from = "gpt"
    exchange.rate_limit_headers = {"anthropic-ratelimit-requests-remaining": "41"}
    exchange.usage = Usage(input_tokens=10, output_tokens=5, cache_read_tokens=100, reasoning_tokens=2,
                           served_model="claude-opus-5-20260101", cache_write_tokens=20)
    return exchange


def test_the_outcome_carries_every_field_of_the_exchange() -> None:
    outcome = served_exchange().outcome()
    assert isinstance(outcome, pool_pb2.Outcome)
    assert (outcome.request_id, API_FORMATS.name(outcome.api_format), outcome.model, outcome.stream) == (
        "req_0123456789abcdef01234567", "anthropic", "alias", True)
    assert (outcome.backend, outcome.credential, outcome.acquired, outcome.local) == ("claude", "work", True, False)
    assert (outcome.status, outcome.error_type, outcome.attempts, outcome.queued_ms) == (200, "", 3, 12.5)
    assert outcome.failover == "personal:429 spare:connection_error" and outcome.fallback_from == "gpt"
    assert dict(outcome.rate_limit_headers) == {"anthropic-ratelimit-requests-remaining": "41"}
    assert (outcome.input_tokens, outcome.output_tokens, outcome.cache_read_tokens, outcome.reasoning_tokens,
            outcome.cache_write_tokens) == (10, 5, 100, 2, 20)
    assert outcome.served_model == "claude-opus-5-20260101"
    assert abs(outcome.started_at - time.time()) < 60


def test_latency_ends_when_the_request_finished_and_ttfb_is_zero_without_a_first_byte() -> None:
    exchange = served_exchange()
    assert exchange.outcome().ttfb_ms == 0.0
    exchange.first_byte = exchange.started + 0.010
    exchange.finished = exchange.started + 0.250
    exchange.finish()  # already finished: the first end counts
    outcome = exchange.outcome()
    assert abs(outcome.ttfb_ms - 10.0) < 1e-6 and abs(outcome.latency_ms - 250.0) < 1e-6
    assert exchange.outcome().latency_ms == outcome.latency_ms  # built later, the same record


def test_a_whole_body_is_parsed_for_usage_only_when_the_outcome_is_built() -> None:
    body = json.dumps(openai_wire.completion("gpt-4o-2024-08-06", "hi", openai_wire.usage(7, 3, cached=2))).encode()
    calls = []

    def reader(data: bytes) -> Usage:
        calls.append(data)
        return openai_usage_from_body(data)

    exchange = Exchange(request_id="req_1", api_format="openai")
    exchange.read_usage_later(reader, body)
    assert calls == [] and exchange.usage.input_tokens == -1  # nothing parsed on the request path
    outcome = exchange.outcome()
    assert (outcome.input_tokens, outcome.output_tokens, outcome.cache_read_tokens) == (7, 3, 2)
    assert outcome.served_model == "gpt-4o-2024-08-06"
    exchange.outcome()
    assert calls == [body]  # once


def test_strings_from_clients_and_upstreams_are_bounded_and_valid_utf8() -> None:
    exchange = Exchange(request_id="r" * 1000, api_format="openai", model="m" * 10_000 + "\ud800")
    exchange.backend = "b" * 1000
    exchange.failover = ["x:429"] * 2000
    exchange.rate_limit_headers = {f"x-ratelimit-{index}": "v" * 1000 for index in range(100)}
    outcome = exchange.outcome()
    assert len(outcome.request_id) == bounds.ID_CHARS and outcome.request_id.endswith(bounds.MARK)
    assert len(outcome.model) == bounds.MODEL_CHARS and len(outcome.backend) == bounds.NAME_CHARS
    assert len(outcome.failover) == bounds.FAILOVER_CHARS
    assert len(outcome.rate_limit_headers) == bounds.HEADERS_KEPT
    assert all(len(value) == bounds.HEADER_VALUE_CHARS for value in outcome.rate_limit_headers.values())
    assert len(outcome.SerializeToString()) < 16 * 1024  # protobuf takes it: no lone surrogate left
    lone = Exchange(request_id="req_2", api_format="openai", model="a\ud800b").outcome()
    assert lone.model == "a\ufffdb"


def test_failures_and_a_client_that_left_are_recorded_with_their_status() -> None:
    failed = Exchange(request_id="req_3", api_format="openai")
    failed.fail(503, "no_usable_credential")
    assert (failed.outcome().status, failed.outcome().error_type) == (503, "no_usable_credential")

    gone = Exchange(request_id="req_4", api_format="openai")
    gone.client_gone()
    assert (gone.outcome().status, gone.outcome().error_type) == (499, "client_disconnected")

    delivered = served_exchange()
    delivered.delivered = True
    delivered.client_gone()  # it had the whole answer: a success
    assert (delivered.outcome().status, delivered.outcome().error_type) == (200, "")

    settled = Exchange(request_id="req_5", api_format="openai")
    settled.settle(504, "upstream_stalled")
    settled.client_gone()  # it was told the failure in-band: that is the record
    assert (settled.outcome().status, settled.outcome().error_type) == (504, "upstream_stalled")
