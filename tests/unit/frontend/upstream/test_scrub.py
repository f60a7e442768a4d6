"""The secrets scrubbed from what upstreams send back, however the network cuts them."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from dario.testing.splitting import split_at
from frontend.upstream import scrub
from frontend.upstream.scrub import MASK, Scrubber, scrubber_for, token_of

SECRET = "test-key-scrub-0123456789abcdef"
OTHER = "test-token-oauth-abcdefghijklmn"
BODY = f'{{"error": {{"message": "bad key {SECRET} (and {OTHER}); {SECRET[:10]}"}}}}'.encode()
EXPECTED = BODY.replace(SECRET.encode(), MASK.encode()).replace(OTHER.encode(), MASK.encode())


def test_the_token_of_a_bearer_header_is_what_is_scrubbed() -> None:
    assert token_of(f"Bearer {SECRET}") == SECRET and token_of(SECRET) == SECRET
    scrubber = Scrubber([f"Bearer {SECRET}", OTHER, "short"])
    assert scrubber.bytes(BODY) == EXPECTED
    assert scrubber.text(f"req-{SECRET}") == f"req-{MASK}" and scrubber.text("short") == "short"


@given(st.lists(st.integers(min_value=0, max_value=len(BODY)), max_size=12))
def test_a_secret_cut_anywhere_by_the_network_is_still_scrubbed(cuts: list[int]) -> None:
    stream = Scrubber([f"Bearer {SECRET}", OTHER]).stream(whole_events=False)
    passed = [stream.feed(piece) for piece in split_at(BODY, cuts)] + [stream.flush()]
    assert b"".join(passed) == EXPECTED
    assert all(SECRET.encode() not in piece for piece in passed)


def test_whole_events_go_out_at_once_and_without_secrets() -> None:
    stream = Scrubber([SECRET]).stream(whole_events=True)
    event = f"data: {{\"key\": \"{SECRET}\"}}\n\n".encode()
    assert stream.feed(event) == f"data: {{\"key\": \"{MASK}\"}}\n\n".encode() and stream.flush() == b""


def test_an_error_body_spelling_the_secret_with_json_escapes_is_scrubbed() -> None:
    escaped = f"{SECRET[:2]}\\u{ord(SECRET[2]):04x}{SECRET[3:]}"
    body = f'{{"error": {{"message": "you sent {escaped}"}}}}'.encode()
    scrubbed = Scrubber([SECRET]).error_body(body)
    assert SECRET not in json.dumps(json.loads(scrubbed), ensure_ascii=False) and MASK.encode() in scrubbed


def test_without_secrets_bodies_pass_untouched() -> None:
    stream = Scrubber([]).stream(whole_events=False)
    assert stream.feed(BODY) == BODY and stream.flush() == b""


def test_scrubber_for_builds_one_scrubber_per_set_of_secrets_and_stays_bounded() -> None:
    first = scrubber_for(["Bearer sk-one-0123456789", "sk-two-0123456789"])
    assert scrubber_for(["sk-two-0123456789", "Bearer sk-one-0123456789"]) is first  # the same set, any order
    assert first.text("a sk-one-0123456789 b sk-two-0123456789") == "a [REDACTED] b [REDACTED]"
    other = scrubber_for(["sk-three-0123456789"])
    assert other is not first
    assert other.text("sk-one-0123456789 sk-three-0123456789") == "sk-one-0123456789 [REDACTED]"
    for number in range(500):  # a new set per lease refresh: never more than a bounded number kept
        scrubber_for([f"sk-refreshed-{number:08d}"])
    assert len(scrub._SCRUBBERS) <= scrub._SCRUBBERS_KEPT
    assert scrubber_for(["sk-refreshed-00000499"]).text("sk-refreshed-00000499") == "[REDACTED]"
