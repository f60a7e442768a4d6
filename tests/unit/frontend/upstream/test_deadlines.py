"""The deadlines of one upstream call: the first byte, each next one, the total."""

from __future__ import annotations

from dario.config import UpstreamLimits
from frontend.upstream.deadlines import CallClock

LIMITS = UpstreamLimits(first_byte_seconds=10.0, stall_seconds=3.0, total_seconds=60.0)


def test_the_clock_waits_for_the_first_byte_then_for_each_next_one_then_the_total() -> None:
    clock = CallClock(LIMITS, "b", sent_at=100.0)
    assert clock.expiry() == 110.0 and clock.failure(110.0).error_type == "upstream_timeout"
    clock.progressed(105.0)
    assert clock.expiry() == 108.0 and clock.failure(108.0).error_type == "upstream_stalled"
    clock.excuse(2.0)  # writing to a slow client: not the upstream's silence
    assert clock.expiry() == 110.0
    clock.progressed(159.0)
    assert clock.expiry() == 160.0 and clock.failure(160.0).error_type == "upstream_deadline"
    assert all(failure.status == 504 for failure in (clock.failure(160.0), clock.failure(120.0)))
    assert "upstream_total_seconds" in clock.failure(160.0).message and "'b'" in clock.failure(160.0).message
