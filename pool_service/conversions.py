"""pool_service's proto ↔ domain conversions: attempts and outcomes in, analytics rows, pool state, availability
and the analytics report out, as the Pool contract carries them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dario.enums import ACCOUNT_STATUSES, API_FORMATS
from dario.json_types import JsonObject
from dario.v1 import pool_pb2
from pool_service.analytics import COLUMNS, OPTIONAL_FIELDS, TOKEN_COLUMNS, Row, Totals
from pool_service.answers import Answer
from pool_service.queue import Granted
from pool_service.selection import Account

# What an AnalyticsGroup carries beside totals.
GROUP_KEYS = ("backend", "credential", "model", "served_models", "session", "project", "client", "instance")
OPTIONAL_GROUPS = ("by_session", "by_project", "by_client", "by_instance")  # in a report only when asked for


def answer_from_attempt(attempt: pool_pb2.Attempt) -> Answer:
    return Answer(attempt.credential, attempt.status, dict(attempt.headers), attempt.error_type, attempt.local)


def answer_from_outcome(outcome: pool_pb2.Outcome) -> Answer:
    return Answer(outcome.credential, outcome.status, dict(outcome.rate_limit_headers), outcome.error_type,
                  outcome.local)


def row_from_outcome(outcome: pool_pb2.Outcome) -> Row:
    """A database row from an Outcome; -1 token counts (not reported) become NULL. cost_usd is left to the
    writer, which holds the pricing."""
    row: Row = {name: getattr(outcome, name, OPTIONAL_FIELDS.get(name)) for name in COLUMNS if name != "cost_usd"}
    row["api_format"] = API_FORMATS.name(outcome.api_format)
    row["stream"] = int(bool(row["stream"]))
    row["usage_estimated"] = int(bool(row["usage_estimated"]))
    row["counted_tokens"] = row["counted_tokens"] or None  # 0: not a count_tokens request
    for name in TOKEN_COLUMNS:
        if row[name] < 0:
            row[name] = None
    return row


def granted_to_proto(granted: Granted) -> pool_pb2.AcquireResponse:
    return pool_pb2.AcquireResponse(credential=granted.credential, queued_ms=granted.queued_ms)


def retry_after_metadata(retry_after: int | None) -> tuple[tuple[str, str], ...]:
    """The trailing metadata of a refused Acquire: retry-after in whole seconds, when a credential will recover."""
    return () if retry_after is None else (("retry-after", str(retry_after)),)


def account_to_proto(account: Account) -> pool_pb2.AccountState:
    return pool_pb2.AccountState(
        backend=account.backend,
        credential=account.credential,
        headroom=account.headroom,
        status=ACCOUNT_STATUSES.value(account.status),
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


def availability_to_proto(unavailable: Mapping[tuple[str, str], float]) -> pool_pb2.WatchAvailabilityResponse:
    return pool_pb2.WatchAvailabilityResponse(unavailable=[
        pool_pb2.Unavailable(backend=backend, credential=credential, until=until)
        for (backend, credential), until in sorted(unavailable.items())
    ])


def summary_to_proto(totals: Totals) -> pool_pb2.SummaryResponse:
    return pool_pb2.SummaryResponse(requests=totals.requests, input_tokens=totals.input_tokens,
                                    output_tokens=totals.output_tokens, errors=totals.errors)


def _present(values: Mapping[str, Any]) -> JsonObject:
    """The fields set: None (no sample, nothing in use, no reset known) is an optional field left absent."""
    return {name: value for name, value in values.items() if value is not None}


def _group(entry: Mapping[str, Any]) -> pool_pb2.AnalyticsGroup:
    keys = {key: entry[key] for key in GROUP_KEYS if key in entry}
    totals = {name: value for name, value in entry.items() if name not in GROUP_KEYS}
    return pool_pb2.AnalyticsGroup(**keys, totals=pool_pb2.AnalyticsTotals(**_present(totals)))


def report_to_proto(report: Mapping[str, Any]) -> pool_pb2.AnalyticsResponse:
    """The report pool_service.reports builds, as typed messages (dario.conversions.report_to_json reverses it)."""
    return pool_pb2.AnalyticsResponse(
        generated_at=report["generated_at"],
        window_seconds=report["window_seconds"],
        window=pool_pb2.AnalyticsTotals(**_present(report["window"])),
        all_time=pool_pb2.AnalyticsTotals(**_present(report["all_time"])),
        by_backend=[_group(entry) for entry in report["by_backend"]],
        by_credential=[_group(entry) for entry in report["by_credential"]],
        by_model=[_group(entry) for entry in report["by_model"]],
        **{name: [_group(entry) for entry in report[name]] for name in OPTIONAL_GROUPS if name in report},
        burn_rate=pool_pb2.BurnRate(**report["burn_rate"]),
        forecast=[pool_pb2.Forecast(**_present(entry)) for entry in report["forecast"]],
        source=report.get("source", ""),
    )


def timeline_to_proto(timeline: Mapping[str, Any]) -> pool_pb2.TimelineResponse:
    """The timeline pool_service.timeline builds (issue 14), as its message."""
    return pool_pb2.TimelineResponse(
        generated_at=timeline["generated_at"], window_seconds=timeline["window_seconds"],
        bucket_seconds=timeline["bucket_seconds"], by=timeline["by"], starts=timeline["starts"],
        series=[pool_pb2.TimelineSeries(**series) for series in timeline["series"]],
        errors=[pool_pb2.TimelineErrors(**errors) for errors in timeline["errors"]],
        latency_p50_ms=timeline["latency_p50_ms"], latency_p95_ms=timeline["latency_p95_ms"],
        ttfb_p50_ms=timeline["ttfb_p50_ms"], ttfb_p95_ms=timeline["ttfb_p95_ms"],
    )


def recent_filters(request: pool_pb2.RecentRequestsRequest) -> dict[str, str | int]:
    """The filters of a RecentRequests request that are set."""
    return {name: getattr(request, name) for name in ("backend", "model", "status", "client", "session", "project")
            if getattr(request, name)}


def recorded_to_proto(row: Mapping[str, object]) -> pool_pb2.RecordedRequest:
    """An analytics row as the dashboard lists it (issue 14): NULLs left absent (or the field's default)."""
    known = pool_pb2.RecordedRequest.DESCRIPTOR.fields_by_name
    fields: JsonObject = {name: value for name, value in row.items() if value is not None and name in known}
    fields["stream"] = bool(fields.get("stream"))
    return pool_pb2.RecordedRequest(**fields)


def prices_to_proto(entries: list[JsonObject]) -> pool_pb2.PricesResponse:
    return pool_pb2.PricesResponse(prices=[pool_pb2.PriceEntry(**entry) for entry in entries])
