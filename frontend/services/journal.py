"""The outcome journal in $DARIO_HOME/run/journal: each outcome is appended (one write() to an O_APPEND file)
before the client can have its answer, and its file deleted once pool_service acknowledged all it holds, so a
SIGKILLed frontend loses no answered request: the next one resends what the files still hold.

Lines are `CRC32 BASE64(Outcome)\\n`; a torn or damaged line is skipped. The kernel keeps a write() through a
process kill, so there is no fsync (a power cut may lose the last moments).
"""

from __future__ import annotations

import binascii
import contextlib
import fcntl
import logging
import os
import pathlib
import time
import uuid
import zlib

from dario.v1 import pool_pb2

log = logging.getLogger(__name__)

SEGMENT_BYTES = 4 * 1024 * 1024  # a new file past this size; the old one goes once all it holds is acknowledged
SUFFIX = ".journal"
STAGING_SUFFIX = ".new"


class Segment:
    """One journal file, locked (flock) for as long as this process owns it, with its unacknowledged count."""

    def __init__(self, path: pathlib.Path, descriptor: int, size: int = 0, unsettled: int = 0) -> None:
        self.path = path
        self.descriptor = descriptor
        self.size = size
        self.unsettled = unsettled
        self.sealed = False  # nothing more is written to it: deleted when unsettled reaches 0


class Journal:
    """Appends outcomes to this process's segment and takes over the segments a dead process left."""

    def __init__(self, folder: pathlib.Path, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.folder = folder
        self.segment_bytes = segment_bytes
        self.current: Segment | None = None
        self.segments: list[Segment] = []
        self.skipped = 0  # torn or damaged lines found on replay
        self.errors = 0  # writes that failed (disk full, folder removed): those outcomes live in memory only

    def open(self) -> list[tuple[Segment, list[pool_pb2.Outcome]]]:
        """Creates this process's segment and reads the segments no live process holds, oldest first (blocking:
        run it in a thread)."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        left = []
        # Staging files too: a process killed between creating its segment and naming it left an empty one.
        for path in [*sorted(self.folder.glob("*" + SUFFIX)), *self.folder.glob(".*" + STAGING_SUFFIX)]:
            taken = self._take_over(path)
            if taken is not None:
                left.append(taken)
        self.current = self._new_segment()
        return left

    def append(self, data: bytes) -> Segment | None:
        """Writes one serialized outcome; returns the segment holding it (None when the write failed)."""
        segment = self.current
        if segment is None:
            return None
        if segment.size >= self.segment_bytes:
            segment = self._rotate()
            if segment is None:
                return None
        line = b"%08x %s" % (zlib.crc32(data), binascii.b2a_base64(data))  # b2a_base64 ends with the newline
        try:
            written = os.write(segment.descriptor, line)
        except OSError as error:
            self._failed(error)
            return None
        segment.size += written
        if written != len(line):  # a short write leaves a torn line, which replay skips; the next starts clean
            with contextlib.suppress(OSError):
                segment.size += os.write(segment.descriptor, b"\n")
            self._failed(OSError("short write"))
            return None
        segment.unsettled += 1
        return segment

    def settle(self, segment: Segment | None) -> None:
        """One outcome of segment acknowledged (or dropped for good): empty files are truncated or deleted."""
        if segment is None:
            return
        segment.unsettled -= 1
        if segment.unsettled > 0:
            return
        if segment.sealed:
            self._delete(segment)
        elif segment.size:
            with contextlib.suppress(OSError):
                os.ftruncate(segment.descriptor, 0)  # O_APPEND: the next write starts the file again
                segment.size = 0

    def close(self) -> None:
        """Deletes the segments with nothing unacknowledged and leaves the others for the next start."""
        for segment in list(self.segments):
            if segment.unsettled <= 0:
                self._delete(segment)
            else:
                os.close(segment.descriptor)
                self.segments.remove(segment)
        self.current = None

    def _new_segment(self) -> Segment | None:
        # Created under a name replay ignores, locked, then renamed: a starting frontend never takes it over.
        name = f"outcomes-{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        staging = self.folder / f".{name}{STAGING_SUFFIX}"
        try:
            descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path = self.folder / (name + SUFFIX)
            os.rename(staging, path)
        except OSError as error:
            self._failed(error)
            return None
        segment = Segment(path, descriptor)
        self.segments.append(segment)
        return segment

    def _rotate(self) -> Segment | None:
        old = self.current
        if old is not None:
            old.sealed = True
            if old.unsettled <= 0:
                self._delete(old)
        self.current = self._new_segment()
        return self.current

    def _take_over(self, path: pathlib.Path) -> tuple[Segment, list[pool_pb2.Outcome]] | None:
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            return None  # deleted meanwhile by its owner
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            return None  # a live process owns it
        with open(descriptor, "rb", closefd=False) as file:
            content = file.read()
        outcomes = self._parse(content, path)
        segment = Segment(path, descriptor, len(content), len(outcomes))
        segment.sealed = True
        self.segments.append(segment)
        if not outcomes:
            self._delete(segment)
            return None
        log.info("resending %d outcomes a stopped frontend left in %s", len(outcomes), path.name)
        return segment, outcomes

    def _parse(self, content: bytes, path: pathlib.Path) -> list[pool_pb2.Outcome]:
        lines = content.split(b"\n")
        skipped = 1 if lines[-1] else 0  # a last line without its newline was torn by the kill: never complete
        outcomes = []
        for line in lines[:-1]:
            checksum, _, encoded = line.partition(b" ")
            try:
                data = binascii.a2b_base64(encoded, strict_mode=True)
                if int(checksum, 16) != zlib.crc32(data):
                    raise ValueError("checksum")
                outcomes.append(pool_pb2.Outcome.FromString(data))
            except Exception:  # noqa: BLE001 — a damaged line (binascii, int, protobuf errors) is skipped
                skipped += 1
        if skipped:
            self.skipped += skipped
            log.warning("skipped %d torn or damaged lines in %s", skipped, path.name)
        return outcomes

    def _delete(self, segment: Segment) -> None:
        with contextlib.suppress(OSError):
            segment.path.unlink()
        with contextlib.suppress(OSError):
            os.close(segment.descriptor)
        if segment in self.segments:
            self.segments.remove(segment)
        if segment is self.current:
            self.current = None

    def _failed(self, error: OSError) -> None:
        self.errors += 1
        if self.errors == 1 or self.errors % 1000 == 0:
            log.warning("outcome journal %s: %s (%d failed writes; those outcomes are kept in memory only)",
                        self.folder, error, self.errors)
