"""The frontend's access log: one line per request, written when its outcome is recorded ([server] access_log).

Only what the outcome holds, already bounded (frontend.bounds): never a body, a header value or a secret.
"""

from __future__ import annotations

import logging

from dario.enums import API_FORMATS
from dario.v1 import pool_pb2

log = logging.getLogger("dario.access")


def access_line(outcome: pool_pb2.Outcome) -> str:
    """`req_… api model=… backend=… credential=… status=… latency=…ms ttfb=…ms tokens=in/out [stream] […]`."""
    parts = [outcome.request_id, API_FORMATS.name(outcome.api_format) or "-",
             f"model={outcome.model or '-'}", f"backend={outcome.backend or '-'}",
             f"credential={outcome.credential or '-'}", f"status={outcome.status}",
             f"latency={outcome.latency_ms:.1f}ms", f"ttfb={outcome.ttfb_ms:.1f}ms",
             f"tokens={outcome.input_tokens}/{outcome.output_tokens}"]
    if outcome.stream:
        parts.append("stream")
    if outcome.error_type:
        parts.append(f"error={outcome.error_type}")
    if outcome.failover:
        parts.append(f"failover={outcome.failover.replace(' ', ',')}")
    if outcome.fallback_from:
        parts.append(f"fallback_from={outcome.fallback_from}")
    return " ".join(parts)


def write(outcome: pool_pb2.Outcome) -> None:
    log.info("%s", access_line(outcome))
