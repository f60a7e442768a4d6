"""The dashboard login's attempt limit (frontend/ui/attempts.py) on a fake clock: per address, in all, decaying one
failure at a time, cleared by a success, bounded in memory; and its [limits] login_* settings."""

from __future__ import annotations

import pytest

from dario.config import ConfigError, LoginLimits, parse_config
from frontend.ui.attempts import LoginAttempts, address_key

LIMITS = LoginLimits(attempts=5, total_attempts=12, window_seconds=60.0, addresses=3)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def attempts(clock: Clock) -> LoginAttempts:
    return LoginAttempts(clock)


def fail(attempts: LoginAttempts, remote: str, count: int, limits: LoginLimits = LIMITS) -> None:
    for _ in range(count):
        assert attempts.retry_after(remote, limits) == 0
        attempts.failed(remote, limits)


def test_five_failures_refuse_the_address_for_the_rest_of_the_window(attempts: LoginAttempts, clock: Clock) -> None:
    fail(attempts, "192.0.2.1", 4)
    assert attempts.retry_after("192.0.2.1", LIMITS) == 0
    clock.now += 10
    attempts.failed("192.0.2.1", LIMITS)
    assert attempts.retry_after("192.0.2.1", LIMITS) == 50  # until the first of the five is 60 s old
    assert attempts.retry_after("192.0.2.2", LIMITS) == 0  # another address is not limited
    clock.now += 0.5
    assert attempts.retry_after("192.0.2.1", LIMITS) == 50  # 49.5 rounded up: never an early retry
    clock.now += 49.25
    assert attempts.retry_after("192.0.2.1", LIMITS) == 1
    clock.now += 0.25  # the first four failures are 60 s old: one failure left in the window
    assert attempts.retry_after("192.0.2.1", LIMITS) == 0

def test_the_limit_decays_one_failure_at_a_time(attempts: LoginAttempts, clock: Clock) -> None:
    for _ in range(5):
        attempts.failed("192.0.2.1", LIMITS)
        clock.now += 10  # failures at 0, 10, 20, 30, 40 s
    assert attempts.retry_after("192.0.2.1", LIMITS) == 10  # at 50 s: until the first is 60 s old
    clock.now += 10
    assert attempts.retry_after("192.0.2.1", LIMITS) == 0
    attempts.failed("192.0.2.1", LIMITS)  # the fifth within the window again
    assert attempts.retry_after("192.0.2.1", LIMITS) == 10  # until the one at 10 s is 60 s old


def test_a_success_clears_its_address_only(attempts: LoginAttempts) -> None:
    limits = LoginLimits(attempts=5, total_attempts=1000, window_seconds=60.0, addresses=3)
    fail(attempts, "192.0.2.1", 5, limits)
    fail(attempts, "192.0.2.2", 4, limits)
    attempts.succeeded("192.0.2.2")
    fail(attempts, "192.0.2.2", 4, limits)  # counted from zero again: without the success, the 5th is refused
    assert attempts.retry_after("192.0.2.1", limits) > 0


def test_many_addresses_together_meet_the_global_limit(attempts: LoginAttempts, clock: Clock) -> None:
    for index in range(12):
        fail(attempts, f"198.51.100.{index}", 1)  # one failure each: no address near its own limit
    assert attempts.retry_after("203.0.113.9", LIMITS) == 60  # a new address is refused too
    clock.now += 60
    assert attempts.retry_after("203.0.113.9", LIMITS) == 0


def test_at_most_the_configured_number_of_addresses_is_kept(attempts: LoginAttempts, clock: Clock) -> None:
    limits = LoginLimits(attempts=2, total_attempts=1000, window_seconds=60.0, addresses=3)
    fail(attempts, "192.0.2.1", 2, limits)
    for index in range(2, 5):
        clock.now += 1
        fail(attempts, f"192.0.2.{index}", 1, limits)
    assert attempts.addresses == 3
    assert attempts.retry_after("192.0.2.1", limits) == 0  # the longest quiet was forgotten
    fail(attempts, "192.0.2.4", 1, limits)
    assert attempts.retry_after("192.0.2.4", limits) > 0  # a recent one is kept


def test_an_ipv6_slash_64_counts_as_one_address(attempts: LoginAttempts) -> None:
    for index in range(5):
        fail(attempts, f"2001:db8:1:2::{index + 1:x}", 1)
    assert attempts.retry_after("2001:db8:1:2:ffff::1", LIMITS) > 0
    assert attempts.retry_after("2001:db8:1:3::1", LIMITS) == 0
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("fe80::1%eth0") == "fe80::/64"
    assert address_key(None) == "" and address_key("not-an-address") == "not-an-address"


def test_the_limits_come_from_config_toml_with_defaults_in_one_place() -> None:
    assert parse_config("").limits.login == LoginLimits()
    assert LoginLimits() == LoginLimits(attempts=5, total_attempts=50, window_seconds=60.0, addresses=4096)
    configured = parse_config("[limits]\nlogin_attempts = 3\nlogin_window_seconds = 2.5\n").limits.login
    assert (configured.attempts, configured.window_seconds, configured.total_attempts) == (3, 2.5, 50)
    with pytest.raises(ConfigError, match="limits.login_attempts must be positive"):
        parse_config("[limits]\nlogin_attempts = 0\n")
