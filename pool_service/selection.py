"""Which credential of a backend a request should use (pure): fewest in flight, ties by catalog order.

Rate-limit headroom joins the score in a later issue; `score` is the seam for it.
"""

from __future__ import annotations

from collections import defaultdict


class NoCandidates(Exception):
    """The backend has no credential to choose from."""


class Selector:
    """In-flight bookkeeping per (backend, credential) and the choice made from it."""

    def __init__(self) -> None:
        self.in_flight: dict[tuple[str, str], int] = defaultdict(int)

    def score(self, backend: str, credential: str) -> tuple[int]:
        """Lower is better."""
        return (self.in_flight[(backend, credential)],)

    def choose(self, backend: str, candidates: list[str]) -> str:
        if not candidates:
            raise NoCandidates(f"backend {backend!r} has no credentials")
        # min() keeps the first of equal scores, so ties go to catalog order.
        chosen = min(candidates, key=lambda credential: self.score(backend, credential))
        self.in_flight[(backend, chosen)] += 1
        return chosen

    def release(self, backend: str, credential: str) -> None:
        key = (backend, credential)
        if self.in_flight.get(key, 0) > 0:
            self.in_flight[key] -= 1
