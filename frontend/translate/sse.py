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
        # utf-8-sig: one leading byte order mark is ignored, as the SSE spec asks (else the first field is lost).
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._partial: list[str] = []  # the line being received, in pieces: joined once, when its end arrives
        self._partial_length = 0
        self._name = ""
        self._data: list[str] = []
        self._pending_cr = False
        self.events = 0  # events dispatched, keep-alive `ping` events not counted (the relay's stall timer)

    def feed(self, chunk: bytes) -> list[Event]:
        text = self._decoder.decode(chunk)
        if not text:
            return []  # nothing decoded (an empty chunk): a \r at the end of the last one stays pending
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]  # the \n of a \r\n split across chunks
        self._pending_cr = text.endswith("\r")
        if "\n" not in text and "\r" not in text:
            self._hold(text)  # no line ends here: scanning the whole line again per chunk would be quadratic
            return []
        lines = ("".join(self._partial) + text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self._partial, self._partial_length = [], 0
        self._hold(lines.pop())
        events: list[Event] = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _hold(self, text: str) -> None:
        self._partial.append(text)
        self._partial_length += len(text)
        if self._partial_length > MAX_LINE_BYTES:
            raise StreamTooLarge(f"an SSE line is longer than {MAX_LINE_BYTES} bytes")

    def finish(self) -> list[Event]:
        """At end of input: a last event whose lines were complete but lacked the blank line is dispatched;
        a line cut off mid-way (the connection broke inside it) is discarded."""
        self._partial, self._partial_length = [], 0
        events = []
        if self._data:
            events.append(Event(self._name, "\n".join(self._data)))
        self._name, self._data = "", []
        return events

    def _line(self, line: str) -> Event | None:
        if line == "":
            if not self._data:  # no data line: nothing is dispatched (an `event:` alone is dropped, per the spec)
                self._name = ""
                return None
            event = Event(self._name, "\n".join(self._data))
            if self._name != "ping":
                self.events += 1
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
