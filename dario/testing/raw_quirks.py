"""Upstream quirks written on a raw socket (issue 16), for what aiohttp's own server never sends: a chunked body whose
framing breaks, a stream cut right after `[DONE]`, a `/models` that never answers, an answer chosen by the key a
request carried (a 500 on one credential, a stream on the other).

`RawUpstream` reads each request (head and Content-Length body) and answers with the bytes its `answer` callable
returns for it; `None` holds the connection open without a byte until the reader leaves or the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dario.testing import anthropic_wire, openai_wire


@dataclass
class RawRequest:
    method: str
    path: str  # without the query
    query: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def key(self) -> str:
        """The key the request carried (`Authorization: Bearer`, or Anthropic's x-api-key)."""
        authorization = self.headers.get("authorization", "")
        return authorization[7:] if authorization[:7].lower() == "bearer " else self.headers.get("x-api-key", "")

    @property
    def json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


Answer = Callable[[RawRequest], "bytes | RawReply | None"]


@dataclass
class RawReply:
    """Bytes written as they are, then the connection closed (`cut`: aborted, without a FIN's orderly end)."""

    data: bytes
    cut: bool = False
    hold: bool = False  # after the bytes, keep the connection open (until the reader leaves)
    then: bytes = b""  # written after `data`, a moment later (a network packet of its own)


@dataclass
class RawUpstream:
    """A server on 127.0.0.1 that answers each request with the raw bytes `answer` returns."""

    answer: Answer
    prefix: str = "/v1"
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[RawRequest] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _held: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{self.prefix}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._held):
                writer.transport.abort()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                self.requests.append(request)
                reply = self.answer(request)
                if reply is None:
                    reply = RawReply(b"", hold=True)
                elif isinstance(reply, bytes):
                    reply = RawReply(reply)
                writer.write(reply.data)
                await writer.drain()
                if reply.then:
                    await asyncio.sleep(0.1)
                    writer.write(reply.then)
                    await writer.drain()
                if reply.hold:
                    self._held.add(writer)
                    await reader.read()  # until the reader leaves
                    return
                if reply.cut:
                    await asyncio.sleep(0.05)
                    writer.transport.abort()
                    return
                if b"connection: close" in reply.data.split(b"\r\n\r\n", 1)[0].lower():
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._held.discard(writer)
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> RawRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    request_line, *lines = head[:-4].decode("latin-1").split("\r\n")
    method, target, _ = request_line.split(" ", 2)
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    path, _, query = target.partition("?")
    return RawRequest(method, path, query, headers, body)


def head(status: int = 200, content_type: str = "text/event-stream", *, chunked: bool = True,
         length: int | None = None, extra: dict[str, str] | None = None) -> bytes:
    """A response's status line and headers (chunked, or with a Content-Length)."""
    lines = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}", f"Content-Type: {content_type}"]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{name}: {value}" for name, value in (extra or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


LAST_CHUNK = b"0\r\n\r\n"


def whole(status: int, content_type: str, body: bytes) -> bytes:
    """A complete answer with a Content-Length."""
    return head(status, content_type, chunked=False, length=len(body)) + body


def json_answer(status: int, document: dict[str, Any]) -> bytes:
    return whole(status, "application/json", json.dumps(document).encode())


# The events of each API's stream, whole (what the scripted upstream sends, here written by hand).
def chat_stream(text: str = "Hello there") -> bytes:
    return openai_wire.stream_events("m", text, openai_wire.usage(3, 2), True)


def anthropic_stream(text: str = "Hello there") -> bytes:
    return anthropic_wire.stream_events("m", text, anthropic_wire.usage(3, 2))


def responses_stream(text: str = "Hello there") -> bytes:
    """A Responses API stream as api.openai.com sends it: created, the text's deltas, completed."""
    response: dict[str, Any] = openai_wire.response("m", text, 3, 2)
    item = response["output"][0]
    started = dict(response, status="in_progress", output=[])
    events: list[tuple[str, dict[str, Any]]] = [("response.created", {"response": started}),
              ("response.output_item.added", {"output_index": 0, "item": dict(item, content=[], status="in_progress")}),
              ("response.content_part.added", {"output_index": 0, "content_index": 0, "item_id": item["id"],
                                               "part": {"type": "output_text", "text": "", "annotations": []}}),
              ("response.output_text.delta", {"output_index": 0, "content_index": 0, "item_id": item["id"],
                                              "delta": text}),
              ("response.completed", {"response": response})]
    return b"".join(f"event: {name}\ndata: {json.dumps(dict(data, type=name, sequence_number=number))}\n\n".encode()
                    for number, (name, data) in enumerate(events))


STREAMS = {"openai": chat_stream, "anthropic": anthropic_stream, "responses": responses_stream}


def preamble(kind: str) -> bytes:
    """The events a stream of `kind` sends before its first token (no text yet)."""
    if kind == "openai":
        return openai_wire.sse({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
    events = STREAMS[kind]("x")
    marker = b"content_block_delta" if kind == "anthropic" else b"response.output_text.delta"
    return events[: events.rfind(b"\n\n", 0, events.find(marker)) + 2]


def stream_head() -> bytes:
    return head(200, "text/event-stream")


def cut_after_done(kind: str) -> RawReply:
    """The whole stream, chunked, then the connection aborted before the chunked terminator."""
    return RawReply(stream_head() + chunk(STREAMS[kind]()), cut=True)


def broken_framing(kind: str, before: bytes | None = None) -> RawReply:
    """A stream whose chunked framing breaks: `before` (default: its first events) in a good chunk, then a chunk
    size line that is not hexadecimal, and the connection held open (the upstream never ends it)."""
    good = before if before is not None else STREAMS[kind]()[:200]
    return RawReply(stream_head() + chunk(good), then=b"zz-not-a-size\r\nwhatever\r\n", hold=True)


def error_status(status: int, kind: str) -> bytes:
    body = anthropic_wire.error_body(status) if kind == "anthropic" else openai_wire.error_body(status)
    return json_answer(status, body)


def by_key(answers: dict[str, Answer], default: Answer) -> Answer:
    """Answers each request with the callable of the key it carried."""
    return lambda request: answers.get(request.key, default)(request)


def models_listing(*names: str) -> bytes:
    return json_answer(200, {"object": "list", "data": [{"id": name, "object": "model", "created": 0,
                                                          "owned_by": "quirk"} for name in names]})


def through_first_token(kind: str, stream: bytes) -> bytes:
    """The events of `stream` (of API `kind`) up to and including its first token."""
    events = stream.split(b"\n\n")
    marker = {"openai": b'"content": "', "anthropic": b"content_block_delta",
              "responses": b"response.output_text.delta"}[kind]
    for index, event in enumerate(events):
        if marker in event and b'"content": ""' not in event:
            return b"\n\n".join(events[: index + 1]) + b"\n\n"
    raise ValueError("no token in the stream")


def in_band_error(kind: str) -> bytes:
    """The in-band error event a stream of API `kind` sends when the server is overloaded after its 200."""
    if kind == "anthropic":
        return anthropic_wire.event("error", {"type": "error", "error": {"type": "overloaded_error",
                                                                         "message": "Overloaded"}})
    if kind == "responses":
        error = {"type": "error", "code": "server_error", "message": "The server is overloaded", "param": None,
                 "sequence_number": 3}
        return f"event: error\ndata: {json.dumps(error)}\n\n".encode()
    return openai_wire.sse({"error": {"message": "The server is overloaded", "type": "server_error", "param": None,
                                      "code": 503}})


def whole_stream(kind: str) -> bytes:
    """A complete, well-framed stream of API `kind`."""
    return stream_head() + chunk(STREAMS[kind]()) + LAST_CHUNK


def failing_before_first_token(how: str, kind: str) -> bytes | RawReply | None:
    """A stream that fails before its first token: `status500`, `status429`, `silent` (its preamble, then
    nothing), `cut` (its preamble, then the connection broken), `in_band` (its preamble, then an error event)."""
    if how in ("status500", "status429"):
        return error_status(int(how[-3:]), kind)
    start = stream_head() + chunk(preamble(kind))
    if how == "silent":
        return RawReply(start, hold=True)
    if how == "cut":
        return RawReply(start, cut=True)
    return start + chunk(in_band_error(kind)) + LAST_CHUNK
