"""Bodies a hostile or broken upstream sends, for the scripted upstream: huge, gzip bombs, trickled, cut short,
or never ending. None is ever held whole in memory (but a bomb's compressed form, about 1 MB per GiB).
"""

from __future__ import annotations

import asyncio
import functools
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from aiohttp import web

from dario.json_types import JsonObject
from dario.testing.sites import abort

BLOCK = 1024 * 1024


@functools.lru_cache(maxsize=8)
def gzip_bomb(head: bytes, filler: bytes, size: int, tail: bytes) -> bytes:
    """A gzip body of head + filler repeated to `size` bytes + tail. A block of filler deflated after a full flush
    is the same bytes each time, so the compressed form is built by repetition: 1 GiB of filler in ~0.3 s."""
    block = (filler * (BLOCK // len(filler) + 1))[:BLOCK]
    count = max(0, size - len(head) - len(tail)) // BLOCK
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    segment = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.compress(tail) + compressor.flush()
    crc = zlib.crc32(head)
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail, crc)
    total = len(head) + count * BLOCK + len(tail)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + start + segment * count + end + struct.pack("<II", crc, total & 0xFFFFFFFF)


@dataclass
class HostileBody:
    """head, then filler repeated up to `size` bytes, then tail; written `piece` bytes at a time, `delay` s apart.

    gzip: sent compressed (Content-Encoding: gzip, the compressed Content-Length). endless: the filler never
    stops (until the reader leaves). declared_length: a Content-Length (larger than what is sent: a cut body).
    cut_after: the connection is broken after this many bytes, without the body's end.
    """

    head: bytes = b""
    filler: bytes = b"a"
    size: int = 0
    tail: bytes = b""
    content_type: str = "application/json"
    gzip: bool = False
    endless: bool = False
    declared_length: int | None = None
    cut_after: int | None = None
    piece: int = 64 * 1024
    delay: float = 0.0

    def pieces(self) -> Iterator[bytes]:
        """The body's bytes as sent (compressed when gzip), in pieces."""
        if self.gzip:
            compressed = gzip_bomb(self.head, self.filler, self.size, self.tail)
            for offset in range(0, len(compressed), self.piece):
                yield compressed[offset : offset + self.piece]
            return
        yield self.head
        block = (self.filler * (self.piece // len(self.filler) + 1))[: self.piece]
        remaining = self.size - len(self.head) - len(self.tail)
        while self.endless or remaining > 0:
            piece = block if self.endless else block[: remaining]
            remaining -= len(piece)
            yield piece
        yield self.tail


async def send_hostile(request: web.Request, status: int, headers: JsonObject, body: HostileBody) -> web.StreamResponse:
    response = web.StreamResponse(status=status, headers=headers)
    response.content_type = body.content_type
    if body.gzip:
        response.headers["Content-Encoding"] = "gzip"
        response.content_length = len(gzip_bomb(body.head, body.filler, body.size, body.tail))
    elif body.declared_length is not None:
        response.content_length = body.declared_length
    await response.prepare(request)
    sent = 0
    try:
        for piece in body.pieces():
            if body.cut_after is not None and sent + len(piece) >= body.cut_after:
                await response.write(piece[: body.cut_after - sent])
                await asyncio.sleep(0.05)
                abort(request)  # no chunked terminator, or fewer bytes than the Content-Length said
                return response
            if piece:
                await response.write(piece)
                sent += len(piece)
            await _pause(request, body.delay)
        if body.declared_length is not None and sent < body.declared_length:
            abort(request)
            return response
        await response.write_eof()
    except ConnectionResetError:  # the reader left (dario gave up): a hostile body ends there
        pass
    return response


async def _pause(request: web.Request, seconds: float) -> None:
    """Sleeps, but stops as soon as the reader has gone (so a server stopping does not wait for a long pause)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while seconds > 0:
        if request.transport is None or request.transport.is_closing():
            raise ConnectionResetError("the reader left")
        await asyncio.sleep(min(0.05, seconds))
        seconds = deadline - asyncio.get_running_loop().time()


def request_body(path: str, model: str, stream: bool = False) -> JsonObject:
    """A minimal request in the API of `path`."""
    if path == "/v1/responses":
        return {"model": model, "input": "hi", "stream": stream}
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return dict(body, max_tokens=50) if path == "/v1/messages" else body
