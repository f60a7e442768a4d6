"""Rate-limit headers to windows, headroom and cooldowns: real provider samples, malformed input, properties."""

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pool_service.ratelimit import (
    DEFAULT_COOLDOWN,
    Observation,
    RateState,
    Window,
    cooldown_until,
    headroom,
    parse,
    parse_duration,
    parse_timestamp,
)

NOW = datetime(2026, 11, 25, 16, 39, 30, tzinfo=UTC).timestamp()

OPENAI_HEADERS = {
    "x-ratelimit-limit-requests": "10000",
    "x-ratelimit-remaining-requests": "9999",
    "x-ratelimit-reset-requests": "6ms",
    "x-ratelimit-limit-tokens": "2000000",
    "x-ratelimit-remaining-tokens": "1999000",
    "x-ratelimit-reset-tokens": "1m8.376s",
}

ANTHROPIC_HEADERS = {
    "anthropic-ratelimit-requests-limit": "4000",
    "anthropic-ratelimit-requests-remaining": "3999",
    "anthropic-ratelimit-requests-reset": "2026-11-25T16:40:00Z",
    "anthropic-ratelimit-tokens-limit": "480000",
    "anthropic-ratelimit-tokens-remaining": "479000",
    "anthropic-ratelimit-tokens-reset": "2026-11-25T16:39:31.5Z",
    "anthropic-ratelimit-input-tokens-limit": "400000",
    "anthropic-ratelimit-input-tokens-remaining": "399000",
    "anthropic-ratelimit-input-tokens-reset": "2026-11-25T16:39:31.5+00:00",
    "anthropic-ratelimit-output-tokens-limit": "80000",
    "anthropic-ratelimit-output-tokens-remaining": "80000",
    "anthropic-ratelimit-output-tokens-reset": "2026-11-25T17:40:00+01:00",
    "retry-after": "12",
}

KNOWN_NAMES = [
    *OPENAI_HEADERS,
    *ANTHROPIC_HEADERS,
    "x-ratelimit-limit-tokens_usage_based",
    "x-ratelimit-remaining-tokens_usage_based",
    "x-ratelimit-reset-tokens_usage_based",
    "retry-after-ms",
    "x-ratelimit-reset",
]


def by_name(headers: dict[str, str]) -> dict[str, Window]:
    return {window.name: window for window in parse(headers, NOW).windows}


def test_openai_sample_becomes_two_windows_with_relative_resets() -> None:
    windows = by_name(OPENAI_HEADERS)
    assert windows["requests"] == Window("requests", 10000, 9999, pytest.approx(NOW + 0.006))
    assert windows["tokens"] == Window("tokens", 2000000, 1999000, pytest.approx(NOW + 68.376))


def test_anthropic_sample_becomes_four_windows_with_absolute_resets_and_retry_after() -> None:
    observation = parse(ANTHROPIC_HEADERS, NOW)
    windows = {window.name: window for window in observation.windows}
    assert windows["requests"] == Window("requests", 4000, 3999, NOW + 30)
    assert windows["tokens"].reset_at == pytest.approx(NOW + 1.5)
    assert windows["input-tokens"] == Window("input-tokens", 400000, 399000, pytest.approx(NOW + 1.5))
    assert windows["output-tokens"] == Window("output-tokens", 80000, 80000, NOW + 30)
    assert observation.retry_at == NOW + 12


def test_header_names_match_whatever_their_case() -> None:
    headers = {
        "X-RateLimit-Limit-Requests": "60",
        "X-RATELIMIT-REMAINING-REQUESTS": "59",
        "x-Ratelimit-Reset-Requests": "1s",
        "Anthropic-RateLimit-Tokens-Limit": "100",
        "ANTHROPIC-RATELIMIT-TOKENS-REMAINING": "10",
        "Retry-After": "3",
    }
    observation = parse(headers, NOW)
    assert observation.windows == (Window("requests", 60, 59, NOW + 1), Window("tokens", 100, 10, None))
    assert observation.retry_at == NOW + 3


def test_suffixed_openai_windows_are_kept_apart() -> None:
    headers = {
        **OPENAI_HEADERS,
        "x-ratelimit-limit-tokens_usage_based": "160000",
        "x-ratelimit-remaining-tokens_usage_based": "159976",
        "x-ratelimit-reset-tokens_usage_based": "9ms",
    }
    assert set(by_name(headers)) == {"requests", "tokens", "tokens_usage_based"}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("6m0s", 360),
        ("1s", 1),
        ("6ms", 0.006),
        ("20ms", 0.02),
        ("1h2m3.5s", 3723.5),
        ("0.5s", 0.5),
        ("7.66s", 7.66),
        ("2m59.56s", 179.56),
        ("1m8.376s", 68.376),
        ("1.5µs", 1.5e-6),
        ("0s", 0),
        ("12", 12),
        ("0.25", 0.25),
        (" 1s ", 1),
    ],
)
def test_durations_in_go_syntax_or_bare_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "-1s", "1x", "1 s", "nan", "inf", "1e3", "m5s", "1.2.3s", "١s"])
def test_malformed_durations_are_none(text: str) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25T16:40:00Z", NOW + 30),
        ("2026-11-25T16:40:00.250Z", NOW + 30.25),
        ("2026-11-25T16:40:00.123456789Z", NOW + 30.123456),
        ("2026-11-25T16:40:00+00:00", NOW + 30),
        ("2026-11-25T18:40:00+02:00", NOW + 30),
        ("2026-11-25t16:40:00z", NOW + 30),
    ],
)
def test_rfc3339_timestamps_with_fractions_and_offsets(text: str, expected: float) -> None:
    assert parse_timestamp(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text",
    ["2026-11-25T16:40:00", "2026-11-25", "20261125T164000Z", "2026-13-01T00:00:00Z", "2026-11-25T16:40:00+25:00", "x"],
)
def test_timestamps_without_offset_or_out_of_range_are_none(text: str) -> None:
    assert parse_timestamp(text) is None


@pytest.mark.parametrize(
    ("headers", "retry_at"),
    [
        ({"retry-after": "12"}, NOW + 12),
        ({"retry-after": "1.5"}, NOW + 1.5),
        ({"retry-after": "0"}, NOW),
        ({"retry-after": "Wed, 25 Nov 2026 16:40:00 GMT"}, NOW + 30),
        ({"retry-after-ms": "250", "retry-after": "12"}, NOW + 0.25),
        ({"retry-after-ms": "soon", "retry-after": "12"}, NOW + 12),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-3"}, None),
        ({"retry-after": "Tue, 31 Nov 2026 16:40:00 GMT"}, None),
        ({"retry-after": "Wed, 25 Nov 2026 16:40:00 PST"}, None),
        ({"retry-after": "999999"}, None),
        ({"x-ratelimit-reset": "1764088800"}, None),
        ({}, None),
    ],
)
def test_retry_after_as_seconds_milliseconds_or_http_date(headers: dict[str, str], retry_at: float | None) -> None:
    assert parse(headers, NOW).retry_at == (pytest.approx(retry_at) if retry_at is not None else None)


@pytest.mark.parametrize(
    ("limit", "remaining", "reset", "expected"),
    [
        ("100", "40", "1s", Window("requests", 100, 40, NOW + 1)),
        ("100", "400", "1s", Window("requests", 100, 100, NOW + 1)),
        ("100", "0", "1s", Window("requests", 100, 0, NOW + 1)),
        ("100", "40", "soon", Window("requests", 100, 40, None)),
        ("100", "40", "1764088800", Window("requests", 100, 40, None)),
        ("100", "40", "25h", Window("requests", 100, 40, None)),
        ("100", "40", None, Window("requests", 100, 40, None)),
        ("0", "0", "1s", None),
        ("abc", "40", "1s", None),
        ("100", "-5", "1s", None),
        ("100", "nan", "1s", None),
        ("inf", "40", "1s", None),
        ("9" * 400, "40", "1s", None),
        ("100", None, "1s", None),
        (None, "40", "1s", None),
    ],
)
def test_each_field_is_validated_on_its_own(
    limit: str | None, remaining: str | None, reset: str | None, expected: Window | None
) -> None:
    values = {"limit": limit, "remaining": remaining, "reset": reset}
    headers = {f"x-ratelimit-{field}-requests": value for field, value in values.items() if value is not None}
    assert by_name(headers).get("requests") == expected


def test_values_that_are_not_text_are_skipped() -> None:
    headers = {"retry-after": None, 5: "x", "x-ratelimit-limit-requests": 10, "x-ratelimit-remaining-requests": "1"}
    assert parse(headers, NOW) == Observation((), None)


def test_headroom_is_the_smallest_fraction_and_recovers_at_reset() -> None:
    windows = [Window("requests", 100, 50, NOW + 100), Window("tokens", 1000, 100, NOW + 60)]
    assert headroom(windows, NOW) == pytest.approx(0.1)
    assert headroom(windows, NOW + 59.9) == pytest.approx(0.1)
    assert headroom(windows, NOW + 60) == pytest.approx(0.5)
    assert headroom(windows, NOW + 100) == 1.0


def test_headroom_without_windows_is_full_and_without_reset_never_recovers() -> None:
    assert headroom([], NOW) == 1.0
    assert headroom([Window("tokens", 10, 2, None)], NOW + 1e9) == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("windows", "retry_at", "status", "expected"),
    [
        ([Window("requests", 10, 0, NOW + 5)], NOW + 12, 200, None),
        ([Window("requests", 10, 0, NOW + 5)], NOW + 12, 529, None),
        ([Window("requests", 10, 0, NOW + 5)], NOW + 12, 429, NOW + 12),
        (
            [Window("requests", 10, 0, NOW + 5), Window("tokens", 10, 0, NOW + 9), Window("x", 10, 5, NOW + 99)],
            None,
            429,
            NOW + 9,
        ),
        ([Window("requests", 10, 3, NOW + 5), Window("tokens", 10, 4, NOW + 2)], None, 429, NOW + 2),
        ([Window("requests", 10, 0, NOW - 5)], None, 429, NOW + DEFAULT_COOLDOWN),
        ([Window("requests", 10, 0, None)], None, 429, NOW + DEFAULT_COOLDOWN),
        ([], None, 429, NOW + DEFAULT_COOLDOWN),
    ],
)
def test_cooldown_rules_for_429(
    windows: list[Window], retry_at: float | None, status: int, expected: float | None
) -> None:
    assert cooldown_until(Observation(tuple(windows), retry_at), status, NOW) == expected


def test_cooldown_from_a_real_anthropic_429() -> None:
    headers = {**ANTHROPIC_HEADERS, "anthropic-ratelimit-tokens-remaining": "0"}
    del headers["retry-after"]
    assert cooldown_until(parse(headers, NOW), 429, NOW) == pytest.approx(NOW + 1.5)


def test_rate_state_merges_windows_by_name_and_keeps_retry_after() -> None:
    state = RateState()
    state.update(parse(OPENAI_HEADERS | {"retry-after": "5"}, NOW))
    state.update(parse({"x-ratelimit-limit-tokens": "2000000", "x-ratelimit-remaining-tokens": "200000"}, NOW))
    assert [window.name for window in state.windows] == ["requests", "tokens"]
    assert state.windows[1] == Window("tokens", 2000000, 200000, None)
    assert state.windows[0].remaining == 9999
    assert state.retry_at == NOW + 5
    assert state.headroom(NOW) == pytest.approx(0.1)


def test_rate_state_headroom_recovers_after_reset() -> None:
    state = RateState()
    state.update(parse({**OPENAI_HEADERS, "x-ratelimit-remaining-tokens": "0"}, NOW))
    assert state.headroom(NOW) == 0.0
    assert state.headroom(NOW + 68) == 0.0
    # Both windows have reset by now (requests after 6 ms, tokens after 1m8.376s).
    assert state.headroom(NOW + 68.377) == 1.0


header_values = st.one_of(
    st.text(),
    st.from_regex(r"-?[0-9]{0,30}(\.[0-9]{0,6})?(ns|µs|ms|s|m|h)?", fullmatch=True),
    st.floats().map(str),
    st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
)


@given(st.dictionaries(st.text(), st.text()), st.floats(0, 4e9))
def test_parse_never_raises_on_arbitrary_text(headers: dict[str, str], now: float) -> None:
    parse(headers, now)


@given(st.dictionaries(st.sampled_from(KNOWN_NAMES).map(str.upper) | st.sampled_from(KNOWN_NAMES), header_values))
def test_parsed_windows_are_always_sane(headers: dict[str, str]) -> None:
    observation = parse(headers, NOW)
    for window in observation.windows:
        assert 0 < window.limit < math.inf and 0 <= window.remaining <= window.limit
        assert window.reset_at is None or window.reset_at - NOW <= 86_400
    assert 0.0 <= headroom(observation.windows, NOW) <= 1.0
    cooldown_until(observation, 429, NOW)


windows_strategy = st.builds(Window, st.text(max_size=3), st.floats(), st.floats(), st.none() | st.floats())


@given(st.lists(windows_strategy), st.floats(allow_nan=False))
def test_headroom_is_always_between_zero_and_one(windows: list[Window], now: float) -> None:
    assert 0.0 <= headroom(windows, now) <= 1.0


@given(
    st.integers(0, 100),
    st.integers(0, 59),
    st.integers(0, 59_999),
    st.integers(0, 999),
)
def test_go_durations_round_trip(hours: int, minutes: int, milliseconds: int, extra_ms: int) -> None:
    seconds = milliseconds / 1000
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes or hours else "", f"{seconds:g}s"]
    text = "".join(parts) + (f"{extra_ms}ms" if extra_ms else "")
    expected = hours * 3600 + minutes * 60 + seconds + extra_ms / 1000
    assert parse_duration(text) == pytest.approx(expected, rel=1e-12, abs=1e-9)
