"""SSE framing of a relayed body: only whole events pass, nothing is lost, the held part is bounded; and the
sample of a body's tail."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dario.testing.splitting import split_at
from frontend.upstream.framing import TAIL_BYTES, EventFramer, Tail
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
