"""dario.logs: the processes' log lines, formatted as logging does, redacted, and written once per loop iteration."""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from collections.abc import Iterator

import pytest

from dario.logs import LoopBatchingHandler, SecondCachingFormatter, setup_logging


class CountingStream(io.StringIO):
    """A stderr that counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, CountingStream]]:
    """The root logger as a process sets it up, writing to a CountingStream; restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    saved = (logging._srcfile, logging.logThreads, logging.logProcesses, logging.logMultiprocessing)
    setup_logging("tester")
    stream = CountingStream()
    handler = root.handlers[0]
    assert isinstance(handler, LoopBatchingHandler)
    handler.setStream(stream)
    try:
        yield logging.getLogger("dario.test"), stream
    finally:
        handler.flush()
        root.handlers[:] = handlers
        root.setLevel(level)
        logging._srcfile, logging.logThreads, logging.logProcesses, logging.logMultiprocessing = saved


def test_lines_of_one_loop_iteration_go_out_in_one_write_in_order(
        logged: tuple[logging.Logger, CountingStream]) -> None:
    log, stream = logged

    async def main() -> tuple[str, str]:
        for number in range(50):
            log.info("line %d", number)
        before = stream.getvalue()
        await asyncio.sleep(0)  # the iteration ends: the waiting lines are written
        await asyncio.sleep(0)
        return before, stream.getvalue()

    before, after = asyncio.run(main())
    assert before == ""
    lines = after.splitlines()
    assert [line.rpartition(": ")[2] for line in lines] == [f"line {number}" for number in range(50)]
    assert all(" tester INFO dario.test: " in line for line in lines)
    assert stream.writes == 1


def test_a_warning_goes_out_at_once_after_the_lines_before_it(logged: tuple[logging.Logger, CountingStream]) -> None:
    log, stream = logged

    async def main() -> str:
        log.info("first")
        log.warning("second")
        return stream.getvalue()

    written = asyncio.run(main())
    assert [line.rpartition(": ")[2] for line in written.splitlines()] == ["first", "second"]


def test_lines_outside_a_loop_and_from_other_threads_go_out_at_once(
        logged: tuple[logging.Logger, CountingStream]) -> None:
    log, stream = logged
    log.info("no loop")
    assert stream.getvalue().endswith("no loop\n")

    async def main() -> str:
        thread = threading.Thread(target=log.info, args=("from a thread",))
        thread.start()
        thread.join()
        return stream.getvalue()

    assert asyncio.run(main()).endswith("from a thread\n")


def test_lines_waiting_when_the_loop_stops_are_written_by_flush_and_by_the_next_loop(
        logged: tuple[logging.Logger, CountingStream]) -> None:
    log, stream = logged
    loop = asyncio.new_event_loop()
    try:
        loop.call_soon(log.info, "left waiting")
        loop.call_soon(loop.stop)
        loop.run_forever()  # stops after the iteration that logged: its write was scheduled for the next one
    finally:
        loop.close()
    assert stream.getvalue() == ""

    async def later() -> None:
        log.info("next loop")
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(later())  # a new loop schedules its own write (not waiting for the closed one)
    assert [line.rpartition(": ")[2] for line in stream.getvalue().splitlines()] == ["left waiting", "next loop"]


def test_log_lines_are_redacted(logged: tuple[logging.Logger, CountingStream]) -> None:
    log, stream = logged
    log.info("calling with Authorization: Bearer sk-abcdefghijklmnop1234")
    assert "sk-abcdefghijklmnop1234" not in stream.getvalue()
    assert "[REDACTED]" in stream.getvalue()


def test_the_caching_formatter_writes_the_time_as_logging_does() -> None:
    plain, cached = logging.Formatter("%(asctime)s %(message)s"), SecondCachingFormatter("%(asctime)s %(message)s")
    for created in (1_700_000_000.001, 1_700_000_000.999, 1_700_000_001.5, 1_700_000_000.25, 1_800_000_123.0):
        record = logging.LogRecord("dario", logging.INFO, __file__, 1, "hello", None, None)
        record.created, record.msecs = created, int((created - int(created)) * 1000)
        assert cached.format(record) == plain.format(record)
