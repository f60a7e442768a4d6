"""The incremental SSE parser: any line ending, any split, multi-line data, comments, and end of input."""

from hypothesis import given
from hypothesis import strategies as st

from dario.testing.splitting import split_at
from frontend.translate.sse import Event, SseParser

STREAM = "event: a\ndata: héllo ☃\n\n: comment\ndata:no-space\ndata: second line\n\nid: 7\nretry: 10\ndata: 🚀\n\n"
EXPECTED = [Event("a", "héllo ☃"), Event("", "no-space\nsecond line"), Event("", "🚀")]


def parse(pieces: list[bytes]) -> list[Event]:
    parser = SseParser()
    events = [event for piece in pieces for event in parser.feed(piece)]
    return events + parser.finish()


@given(st.lists(st.integers(min_value=0, max_value=200), max_size=30), st.sampled_from(["\n", "\r\n", "\r"]))
def test_events_survive_any_split_and_line_ending(cuts: list[int], ending: str) -> None:
    assert parse(split_at(STREAM.replace("\n", ending).encode(), cuts)) == EXPECTED


def test_one_byte_at_a_time_with_crlf() -> None:
    data = STREAM.replace("\n", "\r\n").encode()
    assert parse([data[i : i + 1] for i in range(len(data))]) == EXPECTED


def test_a_last_event_without_its_blank_line_is_kept_but_a_cut_line_is_not() -> None:
    assert parse([b"data: complete\n"]) == [Event("", "complete")]
    assert parse([b"data: {\"cut"]) == []
