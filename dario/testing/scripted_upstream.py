"""A scripted OpenAI-compatible provider on 127.0.0.1: the real wire format, and the ugly parts on demand.

Tests push `Script`s (one is used per request, the default when none is queued; optionally per model) and
read what dario sent in `requests`. Run alone (for the bench): `python -m dario.testing.scripted_upstream
--port 0 [--delay-ms 20]`, which prints `listening on http://127.0.0.1:PORT/v1` and serves until SIGTERM.

Why one module over 400 lines: it is one provider; its Chat and Anthropic endpoints share the script queue, the
recording and the connection-level faults (splits, delays, cuts). The wire formats live in openai_wire.py and
anthropic_wire.py, the rewrites in quirks.py.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import enum
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from dario.json_types import JsonObject
from dario.testing import anthropic_wire, openai_wire
from dario.testing.hostile import HostileBody, send_hostile
from dario.testing.sites import abort, site_port
from dario.testing.threaded import Threaded, serve_until_terminated


class _Computed(enum.Enum):
    DEFAULT = "computed"  # Script.usage: the usage a provider would count for the exchange


DEFAULT = _Computed.DEFAULT
LIMIT_HEADERS: web.RequestKey[dict[str, str]] = web.RequestKey("limit_headers", dict)


@dataclass
class Script:
    status: int = 200
    content: str | None = None  # None: an echo of the last user message
    usage: JsonObject | None | _Computed = DEFAULT  # DEFAULT: computed; None: no usage at all (llama.cpp, Ollama)
    split: int | list[int] | None = None  # write the body in pieces of these sizes (bytes), flushing each
    seed_split: int | None = None  # or in random pieces of 1..8 bytes from this seed
    delay: float = 0.0  # seconds before the headers
    chunk_delay: float = 0.0  # seconds between pieces
    break_after: int | None = None  # abort the connection after this many body bytes
    html: bool = False  # a non-JSON error page (a proxy's 502)
    tools: list[tuple[str, JsonObject]] = field(default_factory=list)  # tool calls to answer with: (name, arguments)
    linger: float = 0.0  # seconds to hold the connection open after the last byte, before ending the body
    headers: dict[str, str] = field(default_factory=dict)
    piece: int = 4  # characters of content per streamed delta
    hostile: HostileBody | None = None  # a body written by hand instead (huge, a gzip bomb, trickled, cut, endless)
    # Echo the key received: "{key}" in content becomes it, an error's message and two passed-back headers quote
    # it, and a body holding it is written in two pieces cut inside it.
    echo_key: bool = False
    # A server's quirk: the body as written is this function of the one the API writes (dario.testing.chat_quirks).
    rewrite: Callable[[bytes], bytes] | None = None


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    query: str = ""

    @property
    def json(self) -> JsonObject:
        result: JsonObject = json.loads(self.body)
        return result


def pieces(body: bytes, script: Script) -> list[bytes]:
    if script.seed_split is not None:
        generator = random.Random(script.seed_split)
        sizes: list[int] = []
        while sum(sizes) < len(body):
            sizes.append(generator.randint(1, 8))
    elif isinstance(script.split, int):
        sizes = [script.split]
    elif script.split:
        sizes = list(script.split)
    else:
        return [body]
    result, offset, index = [], 0, 0
    while offset < len(body):
        size = max(1, sizes[index % len(sizes)])
        result.append(body[offset : offset + size])
        offset, index = offset + size, index + 1
    return result


def last_user_text(document: JsonObject) -> str:
    for message in reversed(document.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


class ScriptedUpstream:
    def __init__(self, delay: float = 0.0, prefix: str = "/v1", host: str = "127.0.0.1", port: int = 0) -> None:
        self.delay, self.prefix, self.host, self.port = delay, prefix, host, port
        self.scripts: collections.deque[Script] = collections.deque()
        self.model_scripts: dict[str, collections.deque[Script]] = collections.defaultdict(collections.deque)
        self.requests: list[Recorded] = []
        self.served = 0  # 200 answers to chat completions and messages
        self.prompt_tokens = 0  # tokens in the usage the client was sent
        self.completion_tokens = 0
        self.disconnects = 0  # responses the client (dario) stopped reading before the end
        self.accept_token: Callable[[str], bool] | None = None  # None: any key; else a refused one gets a 401
        self.unauthorized = 0
        # None: no per-key limits; else a callable (key, anthropic) -> (allowed, rate-limit headers), e.g.
        # dario.testing.limited_upstream.KeyLimits: refused requests get the provider's 429.
        self.limiter: Callable[[str, bool], tuple[bool, dict[str, str]]] | None = None
        self.rate_limited = 0  # requests answered 401 because accept_token refused their key
        self.models_location: str | None = None  # set: GET /models answers 307 to it
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{self.prefix}"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def push(self, *scripts: Script, model: str | None = None) -> None:
        """Queues scripts, one used per request; with model, only for requests naming that model (those first)."""
        (self.scripts if model is None else self.model_scripts[model]).extend(scripts)

    def clear(self) -> None:
        """Forgets queued scripts and recorded requests (the counters keep running)."""
        self.scripts.clear()
        self.model_scripts.clear()
        self.requests.clear()

    def _next_script(self, body: bytes) -> Script:
        with contextlib.suppress(ValueError, AttributeError):
            queued = self.model_scripts.get(json.loads(body).get("model"))
            if queued:
                return queued.popleft()
        return self.scripts.popleft() if self.scripts else Script()

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[self._authenticate])
        app.router.add_post(f"{self.prefix}/chat/completions", self._chat)
        app.router.add_get(f"{self.prefix}/models", self._models)
        app.router.add_post(f"{self.prefix}/messages", self._messages)
        app.router.add_post(f"{self.prefix}/messages/count_tokens", self._count_tokens)
        app.router.add_post(f"{self.prefix}/responses", self._responses)
        app.router.add_post(f"{self.prefix}/embeddings", self._embeddings)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site_port(site)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _authenticate(self, request: web.Request,
                            handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        """Checks the key before anything else, as the providers do; a refused one is recorded but takes no script."""
        anthropic = request.path.startswith(f"{self.prefix}/messages")
        token = self.received_key(request)
        if self.accept_token is None or self.accept_token(token):
            if self.limiter is None:
                return await handler(request)
            allowed, request[LIMIT_HEADERS] = self.limiter(token, anthropic)
            if allowed:
                return await handler(request)
            return await self._rate_limited(request, anthropic)
        self.requests.append(Recorded(request.method, request.path, dict(request.headers), await request.read(),
                                      request.query_string))
        self.unauthorized += 1
        if anthropic:
            return web.json_response(anthropic_wire.error_body(401), status=401,
                                     headers={"request-id": "req_" + uuid.uuid4().hex})
        return web.json_response(openai_wire.error_body(401), status=401,
                                 headers={"x-request-id": "req_" + uuid.uuid4().hex})

    def received_key(self, request: web.Request) -> str:
        """The key a request carried: `Authorization: Bearer`, or Anthropic's x-api-key."""
        authorization = request.headers.get("Authorization", "")
        token = authorization[7:] if authorization[:7].lower() == "bearer " else ""
        anthropic = request.path.startswith(f"{self.prefix}/messages")
        if not token and (anthropic or request.path == f"{self.prefix}/models"):  # Anthropic's GET /v1/models too
            token = request.headers.get("x-api-key", "")
        return token

    async def _rate_limited(self, request: web.Request, anthropic: bool) -> web.Response:
        """The provider's 429 for a key over its limit (recorded, counted, no script taken)."""
        self.requests.append(Recorded(request.method, request.path, dict(request.headers), await request.read(),
                                      request.query_string))
        self.rate_limited += 1
        body = anthropic_wire.error_body(429) if anthropic else openai_wire.error_body(429)
        request_id = {"request-id" if anthropic else "x-request-id": "req_" + uuid.uuid4().hex}
        limits = request[LIMIT_HEADERS]
        return web.json_response(body, status=429, headers={**request_id, **limits})

    async def _models(self, request: web.Request) -> web.Response:
        if self.models_location is not None:
            return web.Response(status=307, headers={"Location": self.models_location})
        data = [{"id": name, "object": "model", "created": 1700000000, "owned_by": "scripted"}
                for name in ("gpt-4o-mini", "gpt-4o")]
        return web.json_response({"object": "list", "data": data})

    async def _receive(self, request: web.Request) -> tuple[bytes, Script]:
        """Records the request, takes the next script, and waits out the configured delays."""
        body = await request.read()
        self.requests.append(Recorded(request.method, request.path, dict(request.headers), body,
                                      request.query_string))
        script = self._next_script(body)
        await asyncio.sleep(self.delay + script.delay)
        return body, script

    @staticmethod
    def _question(body: bytes, script: Script) -> tuple[JsonObject, str, str]:
        document = json.loads(body)
        content = script.content
        if content is None:
            content = f"Hello from scripted upstream: {last_user_text(document)}"
        return document, document.get("model", "unknown"), content

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body, script = await self._receive(request)
        headers = {"x-request-id": "req_" + uuid.uuid4().hex, "openai-processing-ms": "20",
                   **openai_wire.rate_limit_headers(10000 - len(self.requests)),
                   **request.get(LIMIT_HEADERS, {}), **script.headers}
        if script.status != 200:
            return await self._error(request, script, headers)
        document, model, content = self._question(body, script)
        usage_body: JsonObject | None = openai_wire.usage(max(1, len(body) // 4), max(1, len(content.split())))
        if not isinstance(script.usage, _Computed):
            usage_body = script.usage
        if document.get("stream"):
            include_usage = bool((document.get("stream_options") or {}).get("include_usage"))
            payload = openai_wire.stream_events(model, content, usage_body, include_usage,
                                                 piece=script.piece, tools=script.tools)
            content_type = "text/event-stream"
            counted = usage_body if include_usage else None
        else:
            answer = openai_wire.completion(model, content, usage_body, tools=script.tools)
            payload = json.dumps(answer, ensure_ascii=False).encode()
            content_type = "application/json"
            counted = usage_body
        self.served += 1
        if counted:
            self.prompt_tokens += counted["prompt_tokens"]
            self.completion_tokens += counted["completion_tokens"]
        return await self._send(request, script, 200, headers, content_type, payload)

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        """The Anthropic Messages API, as api.anthropic.com answers it."""
        body, script = await self._receive(request)
        headers = {"request-id": "req_" + uuid.uuid4().hex,
                   **anthropic_wire.rate_limit_headers(4000 - len(self.requests)),
                   **request.get(LIMIT_HEADERS, {}), **script.headers}
        if script.status != 200:
            return await self._error(request, script, headers, anthropic_wire.error_body(script.status))
        document, model, content = self._question(body, script)
        usage_body: JsonObject | None = anthropic_wire.usage(max(1, len(body) // 4), max(1, len(content.split())))
        if not isinstance(script.usage, _Computed):
            usage_body = script.usage
        if document.get("stream"):
            payload = anthropic_wire.stream_events(model, content, usage_body, piece=script.piece,
                                                    tools=script.tools)
            content_type = "text/event-stream"
        else:
            answer = anthropic_wire.message(model, content, usage_body, tools=script.tools)
            payload = json.dumps(answer, ensure_ascii=False).encode()
            content_type = "application/json"
        self.served += 1
        if usage_body:
            self.prompt_tokens += usage_body["input_tokens"]
            self.completion_tokens += usage_body["output_tokens"]
        return await self._send(request, script, 200, headers, content_type, payload)

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        """The Responses API as api.openai.com answers it (whole answers only: enough for pass-through)."""
        body, script = await self._receive(request)
        headers = {"x-request-id": "req_" + uuid.uuid4().hex, **script.headers}
        if script.status != 200:
            return await self._error(request, script, headers)
        document = json.loads(body)
        given = document.get("input")
        text = given if isinstance(given, str) else json.dumps(given)[:40]
        content = script.content if script.content is not None else f"Hello from scripted upstream: {text}"
        answer = openai_wire.response(document.get("model", "unknown"), content, max(1, len(body) // 4),
                                      max(1, len(content.split())))
        self.served += 1
        self.prompt_tokens += answer["usage"]["input_tokens"]
        self.completion_tokens += answer["usage"]["output_tokens"]
        return await self._send(request, script, 200, headers, "application/json", json.dumps(answer).encode())

    async def _embeddings(self, request: web.Request) -> web.Response:
        """OpenAI's embeddings answer: one 3-number vector per input, usage counted like the API (prompt tokens)."""
        body = await request.read()
        self.requests.append(Recorded(request.method, request.path, dict(request.headers), body))
        document = json.loads(body)
        inputs = document["input"] if isinstance(document["input"], list) else [document["input"]]
        data = [{"object": "embedding", "index": index, "embedding": [0.1, 0.2, 0.3]} for index in range(len(inputs))]
        tokens = sum(max(1, len(str(item)) // 4) for item in inputs)
        return web.json_response({"object": "list", "data": data, "model": document["model"],
                                  "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    async def _count_tokens(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(Recorded(request.method, request.path, dict(request.headers), body))
        return web.json_response({"input_tokens": max(1, len(body) // 4)}, headers={"request-id": "req_count"})

    async def _error(self, request: web.Request, script: Script, headers: JsonObject,
                     document: JsonObject | None = None) -> web.StreamResponse:
        if script.status == 429:
            headers.setdefault("retry-after", "1")
            headers["x-ratelimit-remaining-requests"] = "0"
        if script.html:
            payload = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            return await self._send(request, script, script.status, headers, "text/html", payload)
        payload = json.dumps(document or openai_wire.error_body(script.status)).encode()
        return await self._send(request, script, script.status, headers, "application/json", payload)

    async def _send(self, request: web.Request, script: Script, status: int, headers: JsonObject,
                    content_type: str, payload: bytes) -> web.StreamResponse:
        if script.rewrite is not None:
            payload = script.rewrite(payload)
        if script.hostile is not None:
            return await send_hostile(request, status, headers, script.hostile)
        if script.echo_key:
            return await self._echo_key(request, status, headers, content_type, payload)
        charset = "utf-8" if content_type == "text/event-stream" else None
        if script.split is None and script.seed_split is None and script.break_after is None and not script.linger:
            return web.Response(status=status, body=payload, headers=headers, content_type=content_type,
                                charset=charset)
        response = web.StreamResponse(status=status, headers=headers)
        response.content_type, response.charset = content_type, charset
        await response.prepare(request)
        sent = 0
        try:
            for piece in pieces(payload, script):
                if script.break_after is not None and sent + len(piece) >= script.break_after:
                    await response.write(piece[: script.break_after - sent])
                    await asyncio.sleep(0.05)
                    abort(request)  # the client sees the chunked body end before its terminator
                    return response
                await response.write(piece)
                sent += len(piece)
                await asyncio.sleep(script.chunk_delay)
            await asyncio.sleep(script.linger)
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            self.disconnects += 1
            raise
        return response

    async def _echo_key(self, request: web.Request, status: int, headers: JsonObject, content_type: str,
                        payload: bytes) -> web.StreamResponse:
        """A provider (or a proxy in front of it) that quotes the key it received, everywhere it can."""
        key = self.received_key(request)
        headers = {**headers, "openai-organization": key, "x-request-id": f"req-{key}", "request-id": f"req-{key}"}
        payload = payload.replace(b"{key}", key.encode())
        if status >= 400:
            document = json.loads(payload)
            document["error"]["message"] += f" (you sent {key}, or in JSON escapes: ESCAPED)"
            escaped = f"{key[:2]}\\u{ord(key[2]):04x}{key[3:]}".encode()  # decodes to the key itself
            payload = json.dumps(document).encode().replace(b"ESCAPED", escaped)
        response = web.StreamResponse(status=status, headers=headers)
        response.content_type = content_type
        await response.prepare(request)
        where = payload.find(key.encode())
        cut = where + len(key) // 2 if where >= 0 else len(payload)
        for piece in (payload[:cut], payload[cut:]):
            await response.write(piece)
            await asyncio.sleep(0.05)  # two network chunks: the key is cut in two
        await response.write_eof()
        return response


def ThreadedUpstream(**options: Any) -> Threaded[ScriptedUpstream]:  # noqa: N802 - reads like a class
    """`with ThreadedUpstream() as upstream:` a ScriptedUpstream on its own loop in a background thread."""
    return Threaded(ScriptedUpstream(**options), name="scripted-upstream")


def threaded(**options: Any) -> Threaded[ScriptedUpstream]:
    """`with threaded() as upstream:` a ScriptedUpstream served from a background thread."""
    return ThreadedUpstream(**options)


def main() -> None:
    parser = argparse.ArgumentParser(description="a scripted OpenAI-compatible upstream on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="delay before every answer's headers")
    arguments = parser.parse_args()
    asyncio.run(serve_until_terminated(ScriptedUpstream(delay=arguments.delay_ms / 1000.0, port=arguments.port)))


if __name__ == "__main__":
    main()
