"""Credential choice: headroom first, then fewest in flight, then catalog order; cooldowns, quarantines, recovery."""

from datetime import UTC, datetime

import pytest

from pool_service import selection
from pool_service.selection import QUARANTINE_BASE, QUARANTINE_MAX, NoCandidates, Pool

NOW = datetime(2026, 11, 25, 16, 39, 30, tzinfo=UTC).timestamp()


def openai_headers(remaining: int, limit: int = 100, reset: str = "1m0s") -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": str(limit),
        "x-ratelimit-remaining-requests": str(remaining),
        "x-ratelimit-reset-requests": reset,
    }


def test_single_candidate_is_always_chosen() -> None:
    pool = Pool()
    assert [pool.choose("b", ["only"], NOW) for _ in range(3)] == ["only"] * 3


def test_fewest_in_flight_then_catalog_order() -> None:
    pool = Pool()
    assert pool.choose("b", ["a", "c"], NOW) == "a"
    assert pool.choose("b", ["a", "c"], NOW) == "c"
    assert pool.choose("b", ["a", "c"], NOW) == "a"
    pool.release("b", "a")
    pool.release("b", "a")
    assert pool.choose("b", ["a", "c"], NOW) == "a"


def test_most_headroom_wins_over_fewer_in_flight() -> None:
    pool = Pool()
    pool.apply("b", "a", 200, openai_headers(remaining=10), NOW)
    pool.apply("b", "c", 200, openai_headers(remaining=90), NOW)
    assert [pool.choose("b", ["a", "c"], NOW) for _ in range(3)] == ["c", "c", "c"]


def test_equal_headroom_goes_to_fewest_in_flight() -> None:
    pool = Pool()
    for credential in ("a", "c"):
        pool.apply("b", credential, 200, openai_headers(remaining=50), NOW)
    assert [pool.choose("b", ["a", "c"], NOW) for _ in range(4)] == ["a", "c", "a", "c"]


def test_headroom_recovers_once_the_window_resets() -> None:
    pool = Pool()
    pool.apply("b", "a", 200, openai_headers(remaining=10, reset="5s"), NOW)
    assert pool.choose("b", ["a", "c"], NOW) == "c"
    pool.release("b", "c")
    assert pool.choose("b", ["a", "c"], NOW + 5) == "a"


def test_backends_are_counted_apart() -> None:
    pool = Pool()
    pool.choose("one", ["x", "y"], NOW)
    assert pool.choose("two", ["x", "y"], NOW) == "x"


def test_excluded_credentials_are_not_chosen() -> None:
    pool = Pool()
    assert pool.choose("b", ["a", "c"], NOW, exclude={"a"}) == "c"
    assert pool.choose("b", ["a", "c"], NOW, exclude={"a", "c"}) is None
    assert pool.available_at("b", ["a", "c"], NOW, exclude={"a", "c"}) is None


def test_release_floors_at_zero() -> None:
    pool = Pool()
    pool.release("b", "never")
    pool.choose("b", ["a"], NOW)
    pool.release("b", "a")
    pool.release("b", "a")
    assert pool.state("b", "a").in_flight == 0


def test_no_candidates_raises() -> None:
    with pytest.raises(NoCandidates, match="'b'"):
        Pool().choose("b", [], NOW)


def test_429_with_retry_after_cools_down_until_then() -> None:
    pool = Pool()
    pool.apply("b", "a", 429, {"retry-after": "7"}, NOW)
    assert pool.choose("b", ["a", "c"], NOW) == "c"
    assert pool.choose("b", ["a"], NOW + 6.9) is None
    assert pool.available_at("b", ["a"], NOW) == NOW + 7
    assert pool.choose("b", ["a"], NOW + 7) == "a"


def test_429_with_openai_duration_resets_cools_down_until_the_exhausted_window_resets() -> None:
    pool = Pool()
    headers = {
        **openai_headers(remaining=0, reset="20s"),
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "900",
        "x-ratelimit-reset-tokens": "2s",
    }
    pool.apply("b", "a", 429, headers, NOW)
    assert pool.available_at("b", ["a"], NOW) == pytest.approx(NOW + 20)
    assert pool.choose("b", ["a"], NOW + 19) is None
    assert pool.choose("b", ["a"], NOW + 20) == "a"


def test_429_with_anthropic_rfc3339_resets_cools_down_until_the_reset() -> None:
    pool = Pool()
    headers = {
        "anthropic-ratelimit-tokens-limit": "480000",
        "anthropic-ratelimit-tokens-remaining": "0",
        "anthropic-ratelimit-tokens-reset": "2026-11-25T16:40:00Z",
    }
    pool.apply("b", "a", 429, headers, NOW)
    assert pool.available_at("b", ["a"], NOW) == NOW + 30
    [account] = pool.snapshot(NOW)
    assert (account.status, account.cooldown_until, account.headroom, account.last_status) == (
        "cooldown",
        NOW + 30,
        0.0,
        429,
    )


def test_429_without_headers_still_rests_the_credential_a_little() -> None:
    pool = Pool()
    pool.apply("b", "a", 429, {}, NOW)
    assert pool.choose("b", ["a"], NOW) is None
    assert NOW < pool.available_at("b", ["a"], NOW) <= NOW + 5


def test_exhausted_window_is_skipped_until_its_reset_even_after_a_200() -> None:
    pool = Pool()
    pool.apply("b", "a", 200, openai_headers(remaining=0, reset="10s"), NOW)
    assert pool.snapshot(NOW)[0].status == "exhausted"
    assert pool.choose("b", ["a", "c"], NOW) == "c"
    assert pool.choose("b", ["a"], NOW + 9) is None
    assert pool.choose("b", ["a"], NOW + 10) == "a"
    assert pool.snapshot(NOW + 10)[0].status == "ok"


def test_window_at_zero_without_a_known_reset_is_least_preferred_but_not_blocked() -> None:
    pool = Pool()
    pool.apply("b", "a", 200, {"x-ratelimit-limit-requests": "10", "x-ratelimit-remaining-requests": "0"}, NOW)
    assert pool.choose("b", ["a", "c"], NOW) == "c"
    assert pool.choose("b", ["a"], NOW) == "a"


def quarantine_left(pool: Pool, credential: str, now: float) -> float:
    [account] = [account for account in pool.snapshot(now) if account.credential == credential]
    assert account.status == "quarantined"
    return account.cooldown_until - now


def test_401_quarantine_grows_per_refusal_and_is_capped() -> None:
    pool = Pool()
    ends = []
    for _ in range(12):
        pool.apply("b", "a", 401, {}, NOW)
        ends.append(quarantine_left(pool, "a", NOW))
    assert ends[:3] == [QUARANTINE_BASE, 2 * QUARANTINE_BASE, 4 * QUARANTINE_BASE]
    assert ends[-1] == QUARANTINE_MAX


def test_a_quarantined_credential_is_used_only_when_no_other_can_serve() -> None:
    pool = Pool()
    pool.apply("b", "a", 403, {}, NOW)
    assert [pool.choose("b", ["a", "c"], NOW) for _ in range(3)] == ["c", "c", "c"]
    # Alone, it serves: the client then sees the upstream's own 401/403, not a wait in the queue.
    assert pool.choose("b", ["a", "c"], NOW, exclude={"c"}) == "a"
    assert pool.available_at("b", ["a"], NOW) <= NOW
    pool.apply("b", "c", 429, {"retry-after": "5"}, NOW)
    assert pool.choose("b", ["a", "c"], NOW) == "a"


def test_success_ends_the_quarantine_and_resets_its_backoff() -> None:
    pool = Pool()
    pool.apply("b", "a", 401, {}, NOW)
    pool.apply("b", "a", 401, {}, NOW)
    assert quarantine_left(pool, "a", NOW) == 2 * QUARANTINE_BASE
    pool.apply("b", "a", 200, {}, NOW + 1)
    assert pool.snapshot(NOW + 1)[0].status == "ok"
    assert pool.choose("b", ["c", "a"], NOW + 1) == "c" and pool.choose("b", ["c", "a"], NOW + 1) == "a"
    pool.apply("b", "a", 401, {}, NOW + 1)
    assert quarantine_left(pool, "a", NOW + 1) == QUARANTINE_BASE


def test_5xx_and_connection_errors_record_the_status_without_a_cooldown() -> None:
    pool = Pool()
    pool.apply("b", "a", 503, {}, NOW)
    assert pool.choose("b", ["a"], NOW) == "a"
    pool.apply("b", "a", 0, {}, NOW)
    assert pool.choose("b", ["a"], NOW) == "a"
    assert pool.snapshot(NOW)[0].last_status == 0


def test_earliest_availability_is_the_soonest_candidate_to_recover() -> None:
    pool = Pool()
    pool.apply("b", "a", 429, {"retry-after": "30"}, NOW)
    pool.apply("b", "c", 200, openai_headers(remaining=0, reset="12s"), NOW)
    pool.apply("b", "d", 429, {"retry-after": "40"}, NOW)
    pool.apply("b", "d", 401, {}, NOW)
    assert pool.choose("b", ["a", "c", "d"], NOW) is None
    assert pool.available_at("b", ["a", "c", "d"], NOW) == pytest.approx(NOW + 12)
    assert pool.available_at("b", ["a", "c", "d"], NOW, exclude={"c"}) == NOW + 30
    assert pool.available_at("b", ["d"], NOW) == NOW + 40, "a quarantine never makes a request wait"
    assert pool.available_at("b", ["a", "c", "d"], NOW + 31) <= NOW + 31


def test_retry_after_wins_over_the_full_reset_of_a_window_at_zero() -> None:
    # Providers refill continuously: OpenAI's "6m0s" is when the whole window is back, not the next free slot.
    pool = Pool()
    pool.apply("b", "a", 429, {"retry-after": "1", **openai_headers(remaining=0, reset="6m0s")}, NOW)
    assert pool.available_at("b", ["a"], NOW) == NOW + 1
    assert pool.choose("b", ["a"], NOW + 1) == "a"
    [account] = pool.snapshot(NOW + 1)
    assert (account.status, account.headroom) == ("ok", 0.0)


def test_settle_releases_and_applies_once_per_request() -> None:
    pool = Pool()
    assert pool.choose("b", ["a", "c"], NOW, request_id="r1") == "a"
    assert pool.choose("b", ["a", "c"], NOW, request_id="r2") == "c"
    assert pool.settle("r1", "b", "a", 401, {}, NOW)
    assert pool.choose("b", ["a", "c"], NOW, exclude={"a"}, request_id="r1") == "c"
    # The retry lists its first attempt again, and the outcome may be resent: neither counts twice.
    assert not pool.settle("r1", "b", "a", 401, {}, NOW)
    assert quarantine_left(pool, "a", NOW) == QUARANTINE_BASE
    assert pool.settle("r1", "b", "c", 200, {}, NOW)
    assert not pool.settle("r1", "b", "c", 200, {}, NOW)
    assert pool.state("b", "c").in_flight == 1, "r2 still holds c"
    assert pool.settle("", "b", "c", 200, {}, NOW), "without a request id, settle always counts"
    assert pool.state("b", "c").in_flight == 0


def test_a_request_that_moves_on_without_settling_releases_its_credential() -> None:
    pool = Pool()
    pool.choose("one", ["a"], NOW, request_id="r")
    pool.choose("two", ["x"], NOW, request_id="r")
    assert (pool.state("one", "a").in_flight, pool.state("two", "x").in_flight) == (0, 1)


def test_snapshot_lists_every_credential_seen_with_windows_and_counts() -> None:
    pool = Pool()
    pool.apply("b", "z", 200, openai_headers(remaining=25, reset="30s"), NOW)
    pool.choose("b", ["z", "y"], NOW)
    pool.choose("a", ["x"], NOW)
    accounts = pool.snapshot(NOW)
    assert [(account.backend, account.credential) for account in accounts] == [("a", "x"), ("b", "y"), ("b", "z")]
    z = accounts[2]
    assert (z.headroom, z.status, z.in_flight, z.chosen, z.last_status, z.cooldown_until) == (0.25, "ok", 0, 0, 200, 0)
    [window] = z.windows
    assert (window.name, window.limit, window.remaining, window.reset_at) == ("requests", 100, 25, NOW + 30)
    assert (accounts[1].in_flight, accounts[1].chosen, accounts[1].headroom) == (1, 1, 1.0)


def test_leases_of_lost_requests_are_forgotten_past_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selection, "MAX_LEASES", 2)
    pool = Pool()
    for request_id in ("r1", "r2", "r3"):
        pool.choose("b", ["a"], NOW, request_id=request_id)
    assert pool.state("b", "a").in_flight == 2
    assert not pool.settle("r1", "b", "a", 200, {}, NOW)
    assert pool.settle("r3", "b", "a", 200, {}, NOW)
