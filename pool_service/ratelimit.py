"""Rate-limit state from upstream response headers (pure): windows, headroom and cooldowns.

Times are unix seconds and every function takes `now`, so nothing here reads the clock.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

DEFAULT_COOLDOWN = 1.0
# Any reset or retry time further ahead than this is treated as garbage: the longest window
# providers report is a day (Groq's requests per day).
MAX_AHEAD = 86_400.0

_ANTHROPIC = re.compile(
    r"anthropic-ratelimit-(?P<window>requests|tokens|input-tokens|output-tokens)-(?P<field>limit|remaining|reset)"
)
# OpenAI, Groq and compatible servers; suffixed windows such as `tokens_usage_based` are kept apart.
_OPENAI = re.compile(r"x-ratelimit-(?P<field>limit|remaining|reset)-(?P<window>(?:requests|tokens)(?:[-_][a-z0-9]+)*)")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
# Go's time.Duration syntax, which OpenAI's headers use: "6m0s", "20ms", "1h2m3.5s".
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)", re.ASCII)
_DURATION = re.compile(rf"(?:{_DURATION_PART.pattern})+", re.ASCII)
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# RFC 7231 IMF-fixdate only; the obsolete RFC 850 and asctime forms are not sent by any upstream we call.
_IMF_FIXDATE = re.compile(
    rf"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{{2}}) ({'|'.join(_MONTHS)}) (\d{{4}}) (\d{{2}}):(\d{{2}}):(\d{{2}}) GMT",
    re.ASCII,
)


@dataclass(frozen=True)
class Window:
    """One rate-limit window as last reported: `remaining` of `limit` until `reset_at`."""

    name: str
    limit: float
    remaining: float
    reset_at: float | None


@dataclass(frozen=True)
class Observation:
    """What one response said: its windows, and when the upstream asked to be retried."""

    windows: tuple[Window, ...]
    retry_at: float | None


def parse_number(text: str) -> float | None:
    """A plain non-negative decimal, or None."""
    text = text.strip()
    return float(text) if _NUMBER.fullmatch(text) else None


def parse_duration(text: str) -> float | None:
    """Seconds from a Go-style duration ("1m8.376s", "20ms") or a bare number of seconds, or None."""
    text = text.strip()
    if (seconds := parse_number(text)) is not None:
        return seconds
    if not _DURATION.fullmatch(text):
        return None
    return sum(float(amount) * _UNIT_SECONDS[unit] for amount, unit in _DURATION_PART.findall(text))


def parse_timestamp(text: str) -> float | None:
    """Unix seconds from an RFC 3339 timestamp with an offset ("2026-11-25T16:40:00Z"), or None."""
    text = text.strip()
    if not _RFC3339.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text.upper()).timestamp()
    except (ValueError, OverflowError):
        return None


def parse_http_date(text: str) -> float | None:
    """Unix seconds from an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), or None."""
    match = _IMF_FIXDATE.fullmatch(text.strip())
    if not match:
        return None
    day, month, year, hour, minute, second = match.groups()
    try:
        moment = datetime(int(year), _MONTHS.index(month) + 1, int(day), int(hour), int(minute), int(second),
                          tzinfo=UTC)
    except ValueError:
        return None
    return moment.timestamp()


def _ahead(moment: float | None, now: float) -> float | None:
    """The moment if it is finite and not absurdly far ahead of now."""
    if moment is None or not math.isfinite(moment) or moment - now > MAX_AHEAD:
        return None
    return moment


def _reset_at(text: str, now: float) -> float | None:
    seconds = parse_duration(text)
    return _ahead(now + seconds if seconds is not None else parse_timestamp(text), now)


def _retry_at(headers: Mapping[str, str], now: float) -> float | None:
    # OpenAI's SDKs prefer retry-after-ms when both are sent; so do we.
    if (milliseconds := parse_number(headers.get("retry-after-ms", ""))) is not None:
        return _ahead(now + milliseconds / 1000, now)
    text = headers.get("retry-after", "")
    seconds = parse_number(text)
    return _ahead(now + seconds if seconds is not None else parse_http_date(text), now)


def parse(headers: Mapping[str, str], now: float) -> Observation:
    """The rate-limit state a response reports; malformed fields are dropped one by one, never raised."""
    lowered = {key.lower(): value for key, value in headers.items() if isinstance(key, str) and isinstance(value, str)}
    fields: dict[str, dict[str, float | None]] = {}
    for key, value in lowered.items():
        match = _ANTHROPIC.fullmatch(key) or _OPENAI.fullmatch(key)
        if match:
            field = match["field"]
            parsed = _reset_at(value, now) if field == "reset" else parse_number(value)
            fields.setdefault(match["window"], {})[field] = parsed
    windows = []
    for name, values in sorted(fields.items()):
        limit, remaining = values.get("limit"), values.get("remaining")
        if limit is not None and remaining is not None and 0 < limit < math.inf and math.isfinite(remaining):
            windows.append(Window(name, limit, min(remaining, limit), values.get("reset")))
    return Observation(tuple(windows), _retry_at(lowered, now))


def window_fraction(window: Window, now: float) -> float:
    """remaining/limit in [0, 1]; once reset_at has passed the window counts as fully recovered.

    Recovery is a step at reset_at, not a linear refill: a refill estimate would need the time
    of the observation and overstates headroom for fixed windows, while the step is conservative
    and every response brings fresh headers anyway.
    """
    if window.reset_at is not None and now >= window.reset_at:
        return 1.0
    if not window.limit > 0:
        return 1.0
    fraction = window.remaining / window.limit
    return min(1.0, max(0.0, fraction)) if not math.isnan(fraction) else 0.0


def headroom(windows: Iterable[Window], now: float) -> float:
    """The smallest fraction left over every window (architecture.md, Contracts); 1.0 when nothing was reported."""
    return min((window_fraction(window, now) for window in windows), default=1.0)


def cooldown_until(observation: Observation, status: int, now: float) -> float | None:
    """Until when a credential rests after this response; None unless it was a 429.

    Order: the upstream's retry-after; else the latest reset of an exhausted window (all must
    recover); else the earliest future reset; else now + DEFAULT_COOLDOWN. Resets already past
    (clock skew) are skipped so a 429 always rests the credential a little.
    """
    if status != 429:
        return None
    if observation.retry_at is not None:
        return observation.retry_at
    future = [
        (window.reset_at, window.remaining)
        for window in observation.windows
        if window.reset_at is not None and window.reset_at > now
    ]
    exhausted = [reset_at for reset_at, remaining in future if remaining <= 0]
    if exhausted:
        return max(exhausted)
    if future:
        return min(reset_at for reset_at, _ in future)
    return now + DEFAULT_COOLDOWN


class RateState:
    """One credential's windows, merged over responses: a newer report of a window replaces the older."""

    def __init__(self) -> None:
        self._windows: dict[str, Window] = {}
        self.retry_at: float | None = None

    def update(self, observation: Observation) -> None:
        self._windows.update((window.name, window) for window in observation.windows)
        if observation.retry_at is not None:
            self.retry_at = observation.retry_at

    @property
    def windows(self) -> tuple[Window, ...]:
        return tuple(self._windows[name] for name in sorted(self._windows))

    def headroom(self, now: float) -> float:
        return headroom(self._windows.values(), now)
