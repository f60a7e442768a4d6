"""SSE framing of a relayed body: only whole events pass, nothing is lost, the held part is bounded; and the
sample of a body's tail."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dario.testing.splitting import split_at
from frontend.upstream.framing import HEAD_BYTES, TAIL_BYTES, EventFramer, Tail, _last_boundary_end
from tests.unit.frontend.test_usage import STREAM


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_framer_passes_only_whole_events_and_loses_nothing(cuts: list[int]) -> None:
    framer = EventFramer()
    passed = []
    for piece in split_at(STREAM, cuts):
        out = framer.feed(piece)
        if out:
            assert out.endswith(b"\n\n")
            passed.append(out)
    assert framer.rest() == b""
    assert b"".join(passed) == STREAM


def test_framer_holds_a_partial_event_until_it_completes() -> None:
    framer = EventFramer()
    assert framer.feed(b'data: {"a":') == b""
    assert framer.feed(b"1}\n") == b""
    assert framer.feed(b"\n") == b'data: {"a":1}\n\n'


def test_framer_understands_crlf_events() -> None:
    framer = EventFramer()
    assert framer.feed(b"data: x\r\n\r\ndata: y") == b"data: x\r\n\r\n"
    assert framer.rest() == b"data: y"


def test_framer_never_holds_more_than_its_cap() -> None:
    framer = EventFramer()
    huge = b"data: " + b"x" * (2 * 1024 * 1024)
    assert framer.feed(huge) == huge


def test_tail_keeps_the_last_bytes_only() -> None:
    tail = Tail()
    for _ in range(100):
        tail.add(b"x" * 4096)
    tail.add(b"END")
    value = tail.value()
    assert len(value) == TAIL_BYTES and value.endswith(b"END")
    assert tail.size < TAIL_BYTES + 8192


@given(st.lists(st.binary(max_size=9000), max_size=60))
def test_tail_keeps_the_first_and_the_last_bytes_of_what_it_was_given(chunks: list[bytes]) -> None:
    tail = Tail()
    for chunk in chunks:
        tail.add(chunk)
    whole = b"".join(chunks)
    assert tail.head == whole[:HEAD_BYTES]
    assert tail.value() == whole[-TAIL_BYTES:]
    assert tail.head == whole[:HEAD_BYTES]  # read twice: the same


@given(st.lists(st.sampled_from([b"data: a\n\n", b"data: b\r\n\r\n", b"data: c\r\r", b"data: d", b"\n", b"\r"]),
                max_size=12))
def test_the_last_boundary_is_found_whatever_the_line_endings(pieces: list[bytes]) -> None:
    data = b"".join(pieces)
    expected = max((data.rfind(boundary) + len(boundary) for boundary in (b"\n\n", b"\r\n\r\n", b"\r\r")
                    if data.rfind(boundary) >= 0), default=0)
    assert _last_boundary_end(data) == expected
