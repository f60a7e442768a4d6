"""HTTP/1.1 on a raw socket, for what no client library sends: pipelined bytes, malformed requests, odd headers."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from dario.json_types import JsonObject

DEADLINE_SECONDS = 10.0


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]  # names lowercased; a repeated header keeps its last value
    body: bytes

    @property
    def json(self) -> JsonObject:
        result: JsonObject = json.loads(self.body)
        return result


async def read_answer(reader: asyncio.StreamReader, deadline: float = DEADLINE_SECONDS) -> RawAnswer:
    """One response: status line, headers, and a body framed by Content-Length or chunked (1xx: none)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), deadline)
    status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    status = int(status_line.split(" ")[1])
    if status < 200:
        return RawAnswer(status, headers, b"")
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await asyncio.wait_for(reader.readuntil(b"\r\n"), deadline)).strip().split(b";")[0], 16)
            body += await asyncio.wait_for(reader.readexactly(size + 2), deadline)
            if size == 0:
                return RawAnswer(status, headers, body[:-2])
            body = body[:-2]
    if "content-length" in headers:
        return RawAnswer(status, headers, await asyncio.wait_for(reader.readexactly(int(headers["content-length"])),
                                                                 deadline))
    return RawAnswer(status, headers, await asyncio.wait_for(reader.read(), deadline))  # until the server closes


class RawConnection:
    """One TCP connection to host:port; write bytes as they are, read answers one at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> RawConnection:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    @property
    def streams(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """The connection's streams, inside `async with`."""
        if self.reader is None or self.writer is None:
            raise RuntimeError("use the connection inside `async with`")
        return self.reader, self.writer

    async def __aexit__(self, *exc: object) -> None:
        self.streams[1].close()

    async def send(self, data: bytes) -> None:
        writer = self.streams[1]
        writer.write(data)
        await writer.drain()

    async def answer(self) -> RawAnswer:
        return await read_answer(self.streams[0])

    async def closed(self) -> bool:
        """True when the server ends the connection with nothing more to say (within the deadline)."""
        return await asyncio.wait_for(self.streams[0].read(), DEADLINE_SECONDS) == b""


async def exchange(host: str, port: int, data: bytes, answers: int = 1) -> list[RawAnswer]:
    """Sends the bytes in one write and reads that many answers."""
    async with RawConnection(host, port) as connection:
        await connection.send(data)
        return [await connection.answer() for _ in range(answers)]
