"""Per-key rate limits for the scripted upstream, enforced and reported the way the providers do.

`KeyLimits` plugs into ScriptedUpstream.limiter: each key gets N requests per fixed window; every answer
carries the real headers (OpenAI `x-ratelimit-*-requests` with a duration reset, Anthropic
`anthropic-ratelimit-requests-*` with an RFC 3339 reset), and a key over its limit gets the provider's 429
with `retry-after`. Counters say what each key served and refused, to compare with dario's analytics.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from dataclasses import dataclass


@dataclass
class _Window:
    started: float
    used: int = 0


class KeyLimits:
    def __init__(self, limits: dict[str, int], window_seconds: float) -> None:
        self.limits = dict(limits)
        self.window = window_seconds
        self.served: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self._windows: dict[str, _Window] = {}
        self._blocked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def block(self, key: str, seconds: float) -> None:
        """The key answers 429 (remaining 0) for the next `seconds`, whatever its count."""
        with self._lock:
            self._blocked_until[key] = time.time() + seconds

    def __call__(self, key: str, anthropic: bool) -> tuple[bool, dict[str, str]]:
        """Counts one request of key: (allowed, the rate-limit headers of the answer)."""
        now = time.time()
        with self._lock:
            limit = self.limits.get(key)
            if limit is None:
                return True, {}
            window = self._windows.get(key)
            if window is None or now >= window.started + self.window:
                window = self._windows[key] = _Window(started=now)
            reset_at = window.started + self.window
            blocked = self._blocked_until.get(key, 0.0) > now
            allowed = not blocked and window.used < limit
            if allowed:
                window.used += 1
                self.served[key] += 1
            else:
                self.refused[key] += 1
                reset_at = max(reset_at, self._blocked_until.get(key, 0.0))
            remaining = 0 if blocked else limit - window.used
        headers = _anthropic(limit, remaining, reset_at) if anthropic else _openai(limit, remaining, reset_at - now)
        if not allowed:
            headers["retry-after"] = str(max(1, math.ceil(reset_at - now)))
        return allowed, headers


def _openai(limit: int, remaining: int, reset_in: float) -> dict[str, str]:
    return {"x-ratelimit-limit-requests": str(limit), "x-ratelimit-remaining-requests": str(remaining),
            "x-ratelimit-reset-requests": f"{max(0.0, reset_in):.3f}s"}


def _anthropic(limit: int, remaining: int, reset_at: float) -> dict[str, str]:
    reset = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(reset_at)) + f".{int(reset_at % 1 * 1000):03d}Z"
    return {"anthropic-ratelimit-requests-limit": str(limit), "anthropic-ratelimit-requests-remaining": str(remaining),
            "anthropic-ratelimit-requests-reset": reset}
