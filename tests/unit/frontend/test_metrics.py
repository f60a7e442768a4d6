"""The frontend's /metrics families: what an exchange counts, the pool's state as scraped, model labels bounded in
length and count, the text parseable."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dario.v1 import pool_pb2
from frontend.exchange import Exchange
from frontend.metrics import MAX_MODEL_LABEL, MAX_MODELS, OTHER, Metrics, pool_families


def exchange(model: str, status: int = 200, backend: str = "solo") -> Exchange:
    record = Exchange(request_id="req_test", api_format="openai", model=model, backend=backend, status=status)
    record.finish()
    return record


def model_counts(metrics: Metrics) -> dict[str, float]:
    text = generate_latest(metrics.registry).decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    counts: dict[str, float] = {}
    for sample in families["dario_requests"].samples:
        if sample.name.endswith("_total"):
            counts[sample.labels["model"]] = counts.get(sample.labels["model"], 0) + sample.value
    return counts


def test_long_and_unserved_model_names_count_as_other_and_the_text_stays_small() -> None:
    metrics = Metrics()
    for index in range(200):
        metrics.observe(exchange(f"gpt-{index}-" + "z" * 1024 * 1024))  # served, but far too long for a label
        metrics.observe(exchange(f"no-such-model-{index}", status=404))  # never served: unknown
    metrics.observe(exchange("gpt-4o-mini"))
    text = generate_latest(metrics.registry)
    assert len(text) < 16 * 1024, len(text)
    assert model_counts(metrics) == {OTHER: 400, "gpt-4o-mini": 1}


def test_at_most_max_models_get_a_label_and_a_known_model_keeps_it_for_its_errors() -> None:
    metrics = Metrics()
    for index in range(MAX_MODELS + 50):
        metrics.observe(exchange(f"gpt-short-{index}"))
    metrics.observe(exchange("gpt-short-0", status=429))
    counts = model_counts(metrics)
    assert len(counts) == MAX_MODELS + 1 and counts[OTHER] == 50
    assert counts["gpt-short-0"] == 2  # its 200 and, once known, its 429


def test_a_label_at_the_length_limit_is_kept_and_a_lone_surrogate_still_renders() -> None:
    metrics = Metrics()
    metrics.observe(exchange("m" * MAX_MODEL_LABEL))
    metrics.observe(exchange("m" * (MAX_MODEL_LABEL + 1)))
    metrics.observe(exchange("gpt-\ud800"))
    assert model_counts(metrics) == {"m" * MAX_MODEL_LABEL: 1, OTHER: 1, "gpt-\ufffd": 1}


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_an_exchange_counts_its_request_latency_first_byte_failovers_and_fallback() -> None:
    metrics = Metrics()
    record = Exchange(request_id="req_test", api_format="anthropic", model="sonnet", backend="claude", status=200)
    record.first_byte = record.started + 0.25
    record.failover, record.attempts = ["c0:429", "c1:timeout"], 3  # two failed, the third served
    record.fallback_from = "openai"
    record.finish()
    metrics.observe(record)
    lone = exchange("sonnet", status=529, backend="claude")
    lone.failover, lone.attempts = ["only:529"], 1  # a lone credential's failure moved nowhere: no failover
    metrics.observe(lone)
    found = samples(metrics)
    labels = (("api", "anthropic"), ("backend", "claude"), ("model", "sonnet"), ("status", "200"))
    assert found["dario_requests_total", labels] == 1
    assert found["dario_requests_total", (("api", "openai"), ("backend", "claude"), ("model", "sonnet"),
                                          ("status", "529"))] == 1
    assert found["dario_request_duration_seconds_count", (("backend", "claude"),)] == 2
    assert found["dario_time_to_first_byte_seconds_count", (("backend", "claude"),)] == 1  # the 529 sent no byte
    assert found["dario_time_to_first_byte_seconds_sum", (("backend", "claude"),)] == pytest.approx(0.25)
    assert found["dario_failovers_total", (("backend", "claude"),)] == 2
    assert found["dario_fallbacks_total", (("backend", "claude"),)] == 1


def test_the_pool_s_state_is_what_the_last_scrape_saw_and_down_without_an_answer() -> None:
    metrics = Metrics()
    # queue_depth is a cluster's sum; the metric is this instance's (the scraper sums the instances itself).
    answer = pool_pb2.AccountsResponse(queue_depth=7, queue_depth_here=3, accounts=[
        pool_pb2.AccountState(backend="claude", credential="a", headroom=0.5, in_flight=2,
                              status=pool_pb2.ACCOUNT_STATUS_OK),
        pool_pb2.AccountState(backend="claude", credential="b", headroom=0.0, status=pool_pb2.ACCOUNT_STATUS_COOLDOWN),
    ])
    metrics.pool_state = pool_families(answer)
    found = samples(metrics)
    assert found["dario_pool_service_up", ()] == 1
    assert found["dario_queue_depth", ()] == 3
    assert found["dario_credential_headroom", (("backend", "claude"), ("credential", "a"))] == 0.5
    assert found["dario_credential_in_flight", (("backend", "claude"), ("credential", "a"))] == 2
    assert found["dario_credential_unavailable", (("backend", "claude"), ("credential", "a"))] == 0
    assert found["dario_credential_unavailable", (("backend", "claude"), ("credential", "b"))] == 1
    metrics.pool_state = pool_families(None)  # pool_service did not answer this scrape
    found = samples(metrics)
    assert found["dario_pool_service_up", ()] == 0
    assert not any(name == "dario_credential_headroom" for name, _ in found)
