"""An incremental SSE parser over bytes: chunk boundaries mean nothing (split lines, split UTF-8, any line ending)."""

from __future__ import annotations

import codecs
from dataclasses import dataclass

MAX_LINE_BYTES = 4 * 1024 * 1024


class StreamTooLarge(ValueError):
    """A single SSE line grew past MAX_LINE_BYTES."""


@dataclass(frozen=True)
class Event:
    name: str  # "" when the event carried no `event:` line
    data: str


class SseParser:
    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._name = ""
        self._data: list[str] = []
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[Event]:
        text = self._decoder.decode(chunk)
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]  # the \n of a \r\n split across chunks
        self._pending_cr = text.endswith("\r")
        self._buffer += text
        events: list[Event] = []
        lines = self._buffer.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self._buffer = lines.pop()
        if len(self._buffer) > MAX_LINE_BYTES:
            raise StreamTooLarge(f"an SSE line is longer than {MAX_LINE_BYTES} bytes")
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def finish(self) -> list[Event]:
        """At end of input: a last event whose lines were complete but lacked the blank line is dispatched;
        a line cut off mid-way (the connection broke inside it) is discarded."""
        self._buffer = ""
        events = []
        if self._data or self._name:
            events.append(Event(self._name, "\n".join(self._data)))
            self._name, self._data = "", []
        return events

    def _line(self, line: str) -> Event | None:
        if line == "":
            if not self._data and not self._name:
                return None
            event = Event(self._name, "\n".join(self._data))
            self._name, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._name = value
        return None
