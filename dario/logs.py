"""The processes' logging: one line per record to stderr (supervisord writes it under $DARIO_HOME/logs), every
record through the redaction filter (dario.redaction), written cheaply enough for a line per request.

What makes a line cheap (issue 13: the frontend's access log was ~5% of its CPU under load): logging is told not
to look up the caller's file and line, thread or process for each record (the format uses none of them); the
timestamp's seconds are formatted once per second; and the lines of one event-loop iteration are written with one
write instead of one each. A warning or worse, and anything logged outside a running event loop, is written at
once together with the lines before it, so the order is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from dario.redaction import RedactingFilter


class SecondCachingFormatter(logging.Formatter):
    """logging's default asctime ("2026-12-03 14:01:21,123"), its seconds formatted once per second: the
    frontend logs a line per request, and time.strftime was a tenth of each line's cost."""

    _second = -1
    _formatted = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 — logging's
        if datefmt is not None or self.default_msec_format is None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:
            self._formatted = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = second
        return self.default_msec_format % (self._formatted, record.msecs)


class LoopBatchingHandler(logging.StreamHandler):  # type: ignore[type-arg]  # StreamHandler[TextIO]
    """A StreamHandler whose lines logged on a running event loop wait for the end of that loop iteration and go
    out in one write; other lines (a warning or worse, another thread's) go out at once, after those waiting."""

    def __init__(self) -> None:
        super().__init__()
        self._waiting: list[str] = []
        self._scheduled_on: asyncio.AbstractEventLoop | None = None  # the loop a write of the waiting lines is due on

    def emit(self, record: logging.LogRecord) -> None:  # called with the handler's lock held
        try:
            line = self.format(record) + self.terminator
        except Exception:  # noqa: BLE001 — logging's own contract: a bad record is reported, never raised
            self.handleError(record)
            return
        self._waiting.append(line)
        try:
            loop = asyncio.get_running_loop() if record.levelno < logging.WARNING else None
        except RuntimeError:  # not on a loop's thread
            loop = None
        if loop is None:
            self._write_waiting()
        elif self._scheduled_on is not loop:  # (a loop that stopped before its write ran is not waited for)
            self._scheduled_on = loop
            loop.call_soon(self.write_waiting)

    def write_waiting(self) -> None:
        self.acquire()
        try:
            self._scheduled_on = None
            self._write_waiting()
        finally:
            self.release()

    def flush(self) -> None:
        self.acquire()
        try:
            self._write_waiting()
        finally:
            self.release()
        super().flush()

    def _write_waiting(self) -> None:
        if not self._waiting:
            return
        text, self._waiting = "".join(self._waiting), []
        with contextlib.suppress(Exception):  # as StreamHandler: a closed or broken stderr must not fail the caller
            self.stream.write(text)
            self.stream.flush()


def setup_logging(process: str, level: int = logging.INFO) -> None:
    """Logs to stderr through the redaction filter, in the format `TIME PROCESS LEVEL LOGGER: MESSAGE`."""
    # The format holds none of these: logging would otherwise look them up for every record (logging HOWTO,
    # "Optimization"): the caller's frame walk was the largest part of an access line's cost.
    logging._srcfile = None  # documented: skips the caller's file and line
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = LoopBatchingHandler()
    handler.setFormatter(SecondCachingFormatter(f"%(asctime)s {process} %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
