"""The stack of the stream-ending tests (issue 16): the real services with three backends on one raw-socket upstream
(dario.testing.raw_quirks), one per upstream API, and [[routes]] sending chat-* to the Chat Completions one, claude-*
to the Anthropic one and resp-* to the Responses one; so each client API reaches each upstream API, natively
(same API) or translated."""

from __future__ import annotations

import contextlib
import json
import pathlib
from collections.abc import AsyncIterator, Callable, Iterator

import aiohttp
from aiohttp.test_utils import TestServer

from dario.testing.hostile import request_body
from dario.testing.raw_quirks import RawReply, RawRequest, RawUpstream
from dario.testing.stack import Services, running_frontend, running_services, wait_for_backends
from dario.testing.threaded import Threaded
from frontend.translate.sse import Event, SseParser

KEYS = {"rawchat": "test-key-rawchat-0123456789", "rawclaude": "test-key-rawclaude-0123456789",
        "rawresp": "test-key-rawresp-0123456789"}
SPARE = "-spare"  # a second credential of a backend has its key with this suffix (failover tests)
KINDS = {"rawchat": "openai", "rawclaude": "anthropic", "rawresp": "openai-responses"}
BACKEND_OF = {"openai": "rawchat", "anthropic": "rawclaude", "responses": "rawresp"}
MODELS = {"openai": "chat-m", "anthropic": "claude-m", "responses": "resp-m"}
PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages", "responses": "/v1/responses"}
UPSTREAM_KIND = {"/v1/chat/completions": "openai", "/v1/messages": "anthropic", "/v1/responses": "responses"}

# (client API, upstream API): the three native pairs, and the translated ones dario has machines for.
NATIVE = [("openai", "openai"), ("anthropic", "anthropic"), ("responses", "responses")]
TRANSLATED = [("anthropic", "openai"), ("openai", "anthropic"), ("responses", "openai"), ("responses", "anthropic")]
ALL_PAIRS = NATIVE + TRANSLATED
Reply = Callable[[str, RawRequest], "bytes | RawReply | None"]


def pair_id(pair: tuple[str, str]) -> str:
    return f"{pair[0]}-from-{pair[1]}"


class Switch:
    """The raw upstream's answer, set by each test: `reply(upstream API, request)`."""

    def __init__(self) -> None:
        self.reply: Reply = lambda kind, request: None

    def __call__(self, request: RawRequest) -> bytes | RawReply | None:
        return self.reply(UPSTREAM_KIND.get(request.path, ""), request)


SOLO, SOLO_MODEL = "rawsolo", "solo-m"  # a Chat Completions backend with one credential
SOLO_FALLING_BACK = "solo-fallback-m"  # routed to it too, with the Chat Completions backend as its fallback


@contextlib.asynccontextmanager
async def quirk_frontend(stack: tuple[Services, RawUpstream]) -> AsyncIterator[TestServer]:
    """A frontend on the stack's services, once it sees the stack's four backends."""
    async with running_frontend(stack[0].config) as server:
        await wait_for_backends(server, 4)
        yield server


def write_config(home: pathlib.Path, rule_extra: str = "", text: str = "") -> None:
    """config.toml with one rule per backend (`rule_extra` appended to each) and `text` before them."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    rules = "".join(f'[[routes]]\nmatch = "{MODELS[api]}"\nbackend = "{name}"\n{rule_extra}\n'
                    for api, name in BACKEND_OF.items())
    rules += f'[[routes]]\nmatch = "{SOLO_MODEL}"\nbackend = "{SOLO}"\n\n'
    rules += f'[[routes]]\nmatch = "{SOLO_FALLING_BACK}"\nbackend = "{SOLO}"\nfallbacks = ["{BACKEND_OF["openai"]}"]\n'

    (home / "config.toml").write_text(f"{text}\n{rules}")


@contextlib.contextmanager
def quirk_stack(home: pathlib.Path, switch: Switch, spares: bool = False, rule_extra: str = "",
                text: str = "") -> Iterator[tuple[Services, RawUpstream]]:
    """The services, with the three backends on a raw upstream answering through `switch` (each backend with a
    second credential when `spares`)."""
    write_config(home, rule_extra, text)
    with Threaded(RawUpstream(switch), name="raw-upstream") as raw, running_services(home) as services:
        for name, key in KEYS.items():
            services.add_backend(name, raw.base_url, key, kind=KINDS[name], credential="first")
            if spares:
                services.add_backend(name, raw.base_url, key + SPARE, kind=KINDS[name], credential="second")
        services.add_backend(SOLO, raw.base_url, "test-key-rawsolo-0123456789", credential="only")
        yield services, raw


async def post(server: TestServer, client: str, upstream: str, stream: bool = True,
               model: str = "") -> tuple[int, bytes, str, str]:
    """The whole answer to a request of API `client` for the model routed to the `upstream` API's backend:
    status, body, request id, content type."""
    path = PATHS[client]
    document = request_body(path, model or MODELS[upstream], stream)
    async with aiohttp.ClientSession() as session:
        async with session.post(server.make_url(path), json=document) as answer:
            return answer.status, await answer.read(), answer.headers["request-id"], answer.content_type


def events(body: bytes) -> list[Event]:
    return SseParser().feed(body) + SseParser().finish() if body else []


def terminal_error(client: str, body: bytes) -> dict:
    """The stream's terminal error, checked to be the client API's own ending: Anthropic's `event: error` last;
    a Chat error chunk then `data: [DONE]` last; Responses' `error` then `response.failed` last. Returns
    {"message", "type"}."""
    parsed = SseParser().feed(body)
    assert parsed, body
    last = parsed[-1]
    if client == "anthropic":
        document = json.loads(last.data)
        assert last.name == "error" and document["type"] == "error", body[-400:]
        return document["error"]
    if client == "responses":
        document = json.loads(last.data)
        assert last.name == "response.failed" and parsed[-2].name == "error", body[-400:]
        return {"message": document["response"]["error"]["message"], "type": document["response"]["error"]["code"]}
    assert last.data.strip() == "[DONE]", body[-400:]
    assert body.count(b"[DONE]") == 1
    document = json.loads(parsed[-2].data)
    assert set(document["error"]) >= {"message", "type"}, body[-400:]
    return document["error"]


def ends_cleanly(client: str, body: bytes) -> None:
    """The stream ends with its API's own last event, and nothing after it."""
    parsed = SseParser().feed(body)
    assert body.endswith(b"\n\n"), body[-200:]
    last = parsed[-1]
    if client == "anthropic":
        assert last.name == "message_stop", body[-400:]
    elif client == "responses":
        assert last.name == "response.completed", body[-400:]
    else:
        assert last.data.strip() == "[DONE]" and body.count(b"[DONE]") == 1, body[-400:]
    assert not any(event.name == "error" or '"error": {' in event.data or '"error":{' in event.data
                   for event in parsed), body[-400:]
