"""The time and size limits of one upstream call, and the failures they end it with (first byte, stall, total).

Times are the event loop's clock, counted from when the request was sent. The limits come in as values (from
`[limits]`, or a route's own later) so the relay never reads configuration itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from dario.config import UpstreamLimits


@dataclass(frozen=True)
class Failure:
    """Why an upstream answer could not be relayed to its end: the status and error type recorded, the message
    the client reads (in a 5xx answer before the first byte, in the stream's terminal error event after)."""

    status: int
    error_type: str
    message: str


class CallClock:
    """When one upstream call must have sent its first token, the next meaningful bytes, and its whole answer.

    Before the first token (the relay tells it: a stream's preamble, keep-alives and empty events are none), the
    first-token deadline runs from when the request was sent; after it, the stall deadline from the last
    meaningful bytes. `origin` names where a route's own deadlines come from (config.toml's rule) in messages."""

    def __init__(self, limits: UpstreamLimits, backend: str, sent_at: float,
                 origin: dict[str, str] | None = None) -> None:
        self.limits = limits
        self.backend = backend
        self.sent_at = sent_at
        self.origin = origin or {}
        self.progress_at: float | None = None  # the last meaningful bytes (None: no first token yet)

    def progressed(self, now: float) -> None:
        """Meaningful bytes: the first token, or any progress after it."""
        self.progress_at = now

    @property
    def token_seen(self) -> bool:
        return self.progress_at is not None

    def excuse(self, seconds: float) -> None:
        """Time spent writing to a slow client, when nothing was read: the upstream's silence is not its own."""
        if self.progress_at is not None:
            self.progress_at += seconds
        else:
            self.sent_at += seconds

    @property
    def total_at(self) -> float:
        return self.sent_at + self.limits.total_seconds

    def expiry(self) -> float:
        """The loop time at which the call fails if no meaningful byte arrives before."""
        if self.progress_at is None:
            return min(self.sent_at + self.limits.first_byte_seconds, self.total_at)
        return min(self.progress_at + self.limits.stall_seconds, self.total_at)

    def _setting(self, name: str, route_name: str) -> str:
        where = self.origin.get(name)
        return f"{route_name} of {where}" if where else f"[limits] upstream_{name}"

    def failure(self, now: float) -> Failure:
        """The failure of a call whose expiry has passed."""
        name, limits = self.backend, self.limits
        if now >= self.total_at:
            return Failure(504, "upstream_deadline", f"backend {name!r} did not finish its answer within "
                           f"{limits.total_seconds:g}s ([limits] upstream_total_seconds)")
        if self.progress_at is None:
            setting = self._setting("first_byte_seconds", "first_token_seconds")
            return Failure(504, "upstream_timeout", f"backend {name!r} sent no answer (no first token) within "
                           f"{limits.first_byte_seconds:g}s ({setting})")
        setting = self._setting("stall_seconds", "stall_seconds")
        return Failure(504, "upstream_stalled", f"backend {name!r} sent nothing but keep-alives for "
                       f"{limits.stall_seconds:g}s ({setting})")


def too_large(backend: str, limit: int, setting: str, what: str = "an answer body") -> Failure:
    return Failure(502, "upstream_body_too_large",
                   f"backend {backend!r} sent {what} larger than {limit} bytes ([limits] {setting})")


def broken(backend: str, error: BaseException, streaming: bool) -> Failure:
    if streaming:
        return Failure(502, "upstream_stream_broken",
                       f"backend {backend!r} ended the stream prematurely ({type(error).__name__})")
    return Failure(502, "upstream_body_cut",
                   f"backend {backend!r} cut its answer short ({type(error).__name__})")


def failed_in_band(backend: str, status: int, error_type: str, message: str) -> Failure:
    """The stream's first meaningful event is an error (an overloaded or rate-limited upstream, in-band)."""
    return Failure(status, "upstream_stream_error", f"backend {backend!r} failed the stream before its first "
                                                    f"token ({error_type}): {message}")


def read_timeout(backend: str, seconds: float) -> Failure:
    """aiohttp's own per-read deadline ([limits] upstream_seconds): not a byte, keep-alives included."""
    return Failure(504, "upstream_stalled", f"backend {backend!r} sent nothing for {seconds:g}s "
                                            "([limits] upstream_seconds)")
