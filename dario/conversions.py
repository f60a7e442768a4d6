"""The frontend's and the CLI's proto ↔ domain conversions: the catalog and leases credential_service pushes, and
what the JSON answers (/status, /accounts, /analytics, the CLI's --json) show of the services' messages, with
the enums as the names users see (dario.enums)."""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.message import Message

from dario.catalog import Backend, Catalog, Lease, api_root
from dario.enums import ACCOUNT_STATUSES, BACKEND_KINDS, CREDENTIAL_KINDS, CREDENTIAL_STATES
from dario.json_types import JsonObject
from dario.v1 import credentials_pb2, pool_pb2

# The keys each grouping of the analytics report carries, as GET /analytics has always shown them.
GROUP_KEYS = {"by_backend": ("backend",), "by_credential": ("backend", "credential"),
              "by_model": ("model", "served_models")}
# Issue 14: the groupings a caller may ask for (AnalyticsRequest.by); a report has them only when asked.
OPTIONAL_GROUP_KEYS = {"session": ("session",), "project": ("project",), "client": ("client",),
                       "instance": ("instance",)}


def catalog_from_proto(
    message: credentials_pb2.WatchBackendsResponse | credentials_pb2.ListBackendsResponse,
) -> Catalog:
    backends = []
    for backend in message.backends:
        kind = BACKEND_KINDS.name(backend.kind)
        backends.append(Backend(
            name=backend.name,
            kind=kind,
            base_url=api_root(kind, backend.base_url),  # vaults written before the SDK form was accepted
            credentials=tuple(credential.name for credential in backend.credentials),
            revisions=tuple(credential.revision for credential in backend.credentials),
            states=tuple(CREDENTIAL_STATES.name(credential.state) for credential in backend.credentials),
        ))
    return Catalog(backends=tuple(backends), generation=getattr(message, "generation", 0))


def lease_from_proto(lease: credentials_pb2.Lease) -> Lease:
    return Lease(lease.header_name, lease.header_value, lease.expires_at, lease.revision,
                 CREDENTIAL_KINDS.name(lease.kind) or "api_key")


def credential_status_to_json(backend: credentials_pb2.Backend, credential: credentials_pb2.CredentialInfo,
                               now: float) -> JsonObject:
    """One credential as GET /status shows it: kind, state, expiry and refresh (no secret)."""
    return {
        "backend": backend.name, "name": credential.name, "kind": CREDENTIAL_KINDS.name(credential.kind),
        "state": CREDENTIAL_STATES.name(credential.state), "expires_at": credential.expires_at or None,
        "expires_in": round(credential.expires_at - now, 1) if credential.expires_at else None,
        "last_refresh": credential.last_refresh or None, "last_error": credential.last_error or None,
        "hint": credential.hint or None, "token_url": credential.token_url or None,
        "client_id": credential.client_id or None, "scope": credential.scope or None,
    }


def account_to_json(account: pool_pb2.AccountState) -> JsonObject:
    """One credential's pool state as GET /accounts shows it."""
    return {
        "backend": account.backend, "credential": account.credential, "status": ACCOUNT_STATUSES.name(account.status),
        "headroom": round(account.headroom, 4), "cooldown_until": account.cooldown_until or None,
        "in_flight": account.in_flight, "chosen": account.chosen, "last_status": account.last_status or None,
        "windows": [{"name": window.name, "limit": window.limit, "remaining": window.remaining,
                     "reset_at": window.reset_at or None} for window in account.windows],
    }


def _fields(message: Message) -> JsonObject:
    """Every field in the .proto's order; an optional one that is absent is None (JSON null)."""
    return {field.name: getattr(message, field.name)
            if not field.has_presence or message.HasField(field.name) else None
            for field in message.DESCRIPTOR.fields}


def _group(entry: pool_pb2.AnalyticsGroup, keys: tuple[str, ...]) -> JsonObject:
    return {**{key: getattr(entry, key) for key in keys}, **_fields(entry.totals)}


def report_to_json(report: pool_pb2.AnalyticsResponse, by: Iterable[str] = ()) -> JsonObject:
    """The analytics report as GET /analytics and `dario analytics --json` print it (the README's shape); by
    names the extra groupings that were asked for (AnalyticsRequest.by), each a by_<name> list."""
    extra = {f"by_{name}": OPTIONAL_GROUP_KEYS[name] for name in dict.fromkeys(by) if name in OPTIONAL_GROUP_KEYS}
    return {
        "generated_at": report.generated_at,
        "window_seconds": report.window_seconds,
        "window": _fields(report.window),
        "all_time": _fields(report.all_time),
        **{name: [_group(entry, keys) for entry in getattr(report, name)]
           for name, keys in {**GROUP_KEYS, **extra}.items()},
        "burn_rate": _fields(report.burn_rate),
        "forecast": [_fields(entry) for entry in report.forecast],
        **({"source": report.source} if report.source else {}),
    }


def timeline_to_json(timeline: pool_pb2.TimelineResponse) -> JsonObject:
    """GET /analytics/timeline (issue 14): one value per bucket, oldest first; a percentile without a sample (-1 in
    the message) is null."""
    def samples(values: object) -> list[float | None]:
        return [None if value < 0 else value for value in values]  # type: ignore[attr-defined]

    return {
        "generated_at": timeline.generated_at, "window_seconds": timeline.window_seconds,
        "bucket_seconds": timeline.bucket_seconds, "by": timeline.by, "starts": list(timeline.starts),
        "series": [{"key": series.key, "requests": list(series.requests), "input_tokens": list(series.input_tokens),
                    "output_tokens": list(series.output_tokens), "cost_usd": list(series.cost_usd)}
                   for series in timeline.series],
        "errors": [{"status": errors.status, "requests": list(errors.requests)} for errors in timeline.errors],
        **{name: samples(getattr(timeline, name))
           for name in ("latency_p50_ms", "latency_p95_ms", "ttfb_p50_ms", "ttfb_p95_ms")},
    }


def recorded_to_json(recorded: pool_pb2.RecordedRequest) -> JsonObject:
    """One row of GET /analytics/requests (issue 14); counts not reported and unpriced costs are null."""
    return _fields(recorded)


def price_to_json(entry: pool_pb2.PriceEntry) -> JsonObject:
    return _fields(entry)
