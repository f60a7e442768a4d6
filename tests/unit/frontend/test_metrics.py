"""The frontend's /metrics families: model labels bounded in length and count, the text parseable."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from frontend.exchange import Exchange
from frontend.metrics import MAX_MODEL_LABEL, MAX_MODELS, OTHER, Metrics


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
