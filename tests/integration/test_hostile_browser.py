"""Hostile web pages against the keyless default: the exact headers browsers send for a cross-site simple POST,
a form POST, a DNS-rebinding page and a CORS preflight, all refused before the upstream hears of them; and the
clients that must keep working (SDKs, Claude Code's HEAD /, the configured CORS origin, [server] allowed_hosts)."""

from __future__ import annotations

import json

import aiohttp
import anthropic
import openai
import pytest
from aiohttp.test_utils import TestServer
from multidict import CIMultiDictProxy

from dario.testing.scripted_upstream import ScriptedUpstream
from dario.testing.stack import Services, running_frontend, wait_for_backends, with_server

pytestmark = pytest.mark.timeout(120)
CHAT = "/v1/chat/completions"
EVIL = "https://evil.example"
DEV_APP = "http://localhost:5173"
QUESTION = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "spend their money"}]}
# What Chrome sends with every request from a page (besides what each case adds).
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
                         "Safari/537.36", "Accept-Language": "en-US,en;q=0.9",
           "Accept-Encoding": "gzip, deflate, br, zstd", "sec-ch-ua-platform": '"Linux"', "sec-ch-ua-mobile": "?0"}


async def send(server: TestServer, method: str, path: str, headers: dict[str, str],
               body: bytes | None = None) -> tuple[int, dict, CIMultiDictProxy[str]]:
    """One request with exactly these headers (aiohttp adds none of its own but Host, unless given)."""
    async with aiohttp.ClientSession(skip_auto_headers=("User-Agent", "Content-Type", "Accept", "Accept-Encoding"),
                                     auto_decompress=True) as session:
        async with session.request(method, server.make_url(path), data=body, headers=headers) as answer:
            raw = await answer.read()
            return answer.status, json.loads(raw) if raw else {}, answer.headers


def assert_refused(status: int, document: dict, headers, expected: int, code: str, *, api: str = "openai") -> str:
    assert status == expected, document
    assert headers["request-id"].startswith("req_")
    assert "access-control-allow-origin" not in headers
    if api == "openai":
        assert document["error"]["code"] == code
        return document["error"]["message"]
    assert document["type"] == "error" and document["error"]["type"] == "permission_error"
    return document["error"]["message"]


def page_fetch(origin: str, site: str, mode: str = "cors", content_type: str | None = None) -> dict[str, str]:
    """What Chrome adds to a fetch() from a page at `origin`."""
    headers = dict(BROWSER, Accept="*/*", Origin=origin, Referer=origin + "/")
    headers.update({"Sec-Fetch-Site": site, "Sec-Fetch-Mode": mode, "Sec-Fetch-Dest": "empty"})
    if content_type:
        headers["Content-Type"] = content_type
    return headers


async def test_a_cross_site_simple_post_is_refused_before_the_upstream(frontend: TestServer,
                                                                       upstream: ScriptedUpstream) -> None:
    before = len(upstream.requests)
    # fetch("http://127.0.0.1:3456/v1/chat/completions", {method: "POST", mode: "no-cors", body: JSON.stringify(q)})
    headers = page_fetch(EVIL, "cross-site", "no-cors", "text/plain;charset=UTF-8")
    status, document, answer = await send(frontend, "POST", CHAT, headers, json.dumps(QUESTION).encode())
    message = assert_refused(status, document, answer, 403, "origin_not_allowed")
    assert "DARIO_CORS_ORIGIN" in message and EVIL in message
    anthropic_body = json.dumps(dict(QUESTION, max_tokens=5)).encode()
    status, document, answer = await send(frontend, "POST", "/v1/messages", headers, anthropic_body)
    assert_refused(status, document, answer, 403, "", api="anthropic")
    assert len(upstream.requests) == before


@pytest.mark.parametrize(("content_type", "body"), [
    # <form method=post enctype=text/plain><input name='{"model":"gpt-4o-mini","messages":[...],"x":"' value='"}'>
    ("text/plain", b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"x":"="}'),
    ("application/x-www-form-urlencoded", b"model=gpt-4o-mini&messages=hi"),
    ("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
     b'------WebKitFormBoundary7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; name="model"\r\n\r\n'
     b"gpt-4o-mini\r\n------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n"),
])
async def test_a_cross_site_form_post_is_refused(frontend: TestServer, upstream: ScriptedUpstream,
                                                 content_type: str, body: bytes) -> None:
    before = len(upstream.requests)
    headers = dict(BROWSER, Origin=EVIL, Referer=EVIL + "/", **{
        "Content-Type": content_type, "Cache-Control": "max-age=0", "Upgrade-Insecure-Requests": "1",
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
        "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-User": "?1",
        "Sec-Fetch-Dest": "document"})
    status, document, answer = await send(frontend, "POST", CHAT, headers, body)
    assert_refused(status, document, answer, 403, "origin_not_allowed")
    assert len(upstream.requests) == before


async def test_each_defence_holds_alone(frontend: TestServer, upstream: ScriptedUpstream) -> None:
    before = len(upstream.requests)
    body = json.dumps(QUESTION).encode()
    # A body a page could send without asking: refused for its type even with no browser header at all.
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                         "application/jsonx", None):
        headers = {"Content-Type": content_type} if content_type else {}
        status, document, answer = await send(frontend, "POST", CHAT, headers, body)
        message = assert_refused(status, document, answer, 415, "unsupported_media_type")
        assert "application/json" in message
    # A cross-site or same-site (another port of localhost) fetch that sends no Origin, e.g. <img src> or a GET.
    for site in ("cross-site", "same-site"):
        status, document, answer = await send(frontend, "GET", "/status", {"Sec-Fetch-Site": site})
        assert_refused(status, document, answer, 403, "cross_origin_request")
    # An Origin dario never opted in, even on JSON and even "null" (sandboxed iframes, file:// pages).
    for origin in (EVIL, "null", DEV_APP, "http://127.0.0.1:1"):
        status, document, answer = await send(frontend, "POST", CHAT,
                                              {"Origin": origin, "Content-Type": "application/json"}, body)
        assert_refused(status, document, answer, 403, "origin_not_allowed")
    assert len(upstream.requests) == before


@pytest.mark.parametrize("path", ["/status", "/analytics", "/accounts", "/metrics", "/v1/models", "/health"])
async def test_a_dns_rebinding_page_reads_nothing(frontend: TestServer, path: str) -> None:
    # evil.example resolved to 127.0.0.1 after the page loaded: its fetch("/status") is same-origin to Chrome.
    headers = dict(BROWSER, Host=f"evil.example:{frontend.port}", Accept="*/*", Referer="http://evil.example/",
                   **{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"})
    status, document, answer = await send(frontend, "GET", path, headers)
    message = assert_refused(status, document, answer, 403, "host_not_allowed")
    assert "allowed_hosts" in message and "evil.example" in message


async def test_a_dns_rebinding_page_cannot_post_a_completion(frontend: TestServer,
                                                             upstream: ScriptedUpstream) -> None:
    before = len(upstream.requests)
    origin = f"http://evil.example:{frontend.port}"
    headers = page_fetch(origin, "same-origin", content_type="application/json")
    headers["Host"] = f"evil.example:{frontend.port}"
    status, document, answer = await send(frontend, "POST", CHAT, headers, json.dumps(QUESTION).encode())
    assert_refused(status, document, answer, 403, "host_not_allowed")
    for host in ("0.0.0.0", "192.0.2.7", "localhost.evil.example", "127.0.0.1.nip.io"):
        status, document, answer = await send(frontend, "GET", "/status", {"Host": f"{host}:{frontend.port}"})
        assert_refused(status, document, answer, 403, "host_not_allowed")
    assert len(upstream.requests) == before


async def test_a_preflight_from_an_origin_not_configured_is_refused(services: Services) -> None:
    preflight = dict(BROWSER, Accept="*/*", Origin=EVIL, **{
        "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type",
        "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"})
    for cors_origin in ("", DEV_APP):
        config = with_server(services.config, cors_origin=cors_origin)
        async with running_frontend(config) as server:
            status, document, answer = await send(server, "OPTIONS", CHAT, preflight)
            assert_refused(status, document, answer, 403, "origin_not_allowed")


async def test_sdks_and_claude_code_are_served(frontend: TestServer, upstream: ScriptedUpstream) -> None:
    before = len(upstream.requests)
    sdk = openai.AsyncOpenAI(base_url=str(frontend.make_url("/v1")), api_key="unused", max_retries=0)
    assert (await sdk.chat.completions.create(**QUESTION)).choices[0].message.content
    localhost = f"http://localhost:{frontend.port}"
    claude = anthropic.AsyncAnthropic(base_url=localhost, api_key="unused", max_retries=0)
    answer = await claude.messages.create(model="gpt-4o-mini", max_tokens=5, messages=QUESTION["messages"])
    assert answer.content[0].text
    async with aiohttp.ClientSession() as session:  # Claude Code probes the base URL first
        async with session.head(f"{localhost}/") as probe:
            assert probe.status == 200
    for host in ("127.0.0.1", "localhost", "LOCALHOST.", "127.0.0.2", "[::1]", "dario.localhost"):
        for suffix in ("", f":{frontend.port}"):
            status, document, _ = await send(frontend, "GET", "/health", {"Host": host + suffix})
            assert status == 200 and document["status"], (host, suffix)
    for content_type in ("application/json", "Application/JSON; charset=utf-8", "application/vnd.api+json"):
        status, document, _ = await send(frontend, "POST", CHAT, {"Content-Type": content_type},
                                         json.dumps(QUESTION).encode())
        assert status == 200 and document["choices"], content_type
    # The user opening a URL in the address bar (Sec-Fetch-Site: none) reads dario's status.
    navigation = dict(BROWSER, Host=f"localhost:{frontend.port}", Accept="text/html,*/*;q=0.8", **{
        "Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-User": "?1", "Sec-Fetch-Dest": "document"})
    status, document, _ = await send(frontend, "GET", "/status", navigation)
    assert status == 200 and "credentials" in document
    assert len(upstream.requests) == before + 5


async def test_the_configured_cors_origin_is_served(services: Services, upstream: ScriptedUpstream) -> None:
    config = with_server(services.config, cors_origin=DEV_APP)
    async with running_frontend(config) as server:
        await wait_for_backends(server, 1)
        host = {"Host": f"localhost:{server.port}"}
        preflight = dict(page_fetch(DEV_APP, "same-site"), **host, **{
            "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
        async with aiohttp.ClientSession() as session:
            async with session.options(server.make_url(CHAT), headers=preflight) as answer:
                assert answer.status == 204 and answer.headers["access-control-allow-origin"] == DEV_APP
        fetch = dict(page_fetch(DEV_APP, "same-site", content_type="application/json"), **host)
        status, document, headers = await send(server, "POST", CHAT, fetch, json.dumps(QUESTION).encode())
        assert status == 200 and document["choices"]
        assert headers["access-control-allow-origin"] == DEV_APP and "origin" in headers["vary"].lower()


async def test_a_name_in_allowed_hosts_is_served(services: Services, upstream: ScriptedUpstream) -> None:
    config = with_server(services.config, allowed_hosts=("dario.lan",))
    async with running_frontend(config) as server:
        await wait_for_backends(server, 1)
        for host in ("dario.lan", f"DARIO.LAN:{server.port}"):
            status, document, _ = await send(server, "POST", CHAT, {"Host": host, "Content-Type": "application/json"},
                                             json.dumps(QUESTION).encode())
            assert status == 200 and document["choices"], host
        status, document, answer = await send(server, "GET", "/status", {"Host": "other.lan"})
        assert_refused(status, document, answer, 403, "host_not_allowed")


async def test_with_a_key_any_host_is_served_but_foreign_pages_are_not(services: Services) -> None:
    """With DARIO_API_KEY dario may listen beyond loopback, reached by any name; the key defeats rebinding
    (a page cannot learn it), and a foreign Origin or a form type is still refused."""
    key = "sk-test-browser-key"
    config = with_server(services.config, api_key=key)
    async with running_frontend(config) as server:
        await wait_for_backends(server, 1)
        authorized = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        body = json.dumps(QUESTION).encode()
        status, _, _ = await send(server, "POST", CHAT, dict(authorized, Host="192.0.2.7:3456"), body)
        assert status == 200
        status, document, answer = await send(server, "POST", CHAT, dict(authorized, Origin=EVIL), body)
        assert_refused(status, document, answer, 403, "origin_not_allowed")
        status, document, answer = await send(server, "POST", CHAT, dict(authorized, **{"Content-Type": "text/plain"}),
                                              body)
        assert_refused(status, document, answer, 415, "unsupported_media_type")
