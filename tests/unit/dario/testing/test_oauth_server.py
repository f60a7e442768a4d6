"""The scripted OAuth server answers like a real one: rotation with grace, client auth, PKCE, faults and outages."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Mapping

import aiohttp
import pytest

from dario.testing.oauth_server import OAuthServer, ThreadedOAuthServer

SECRET = "s3cret/with+odd:chars"
REDIRECT = "https://app.example/callback"
RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 Appendix B
RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.fixture
async def server() -> AsyncIterator[OAuthServer]:
    running = OAuthServer()
    running.add_client("app", SECRET, redirect_uris=[REDIRECT])
    running.add_client("cli", loopback=True)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def basic(client_id: str = "app", secret: str = SECRET) -> str:
    pair = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


async def token(
    session: aiohttp.ClientSession, server: OAuthServer, authorization: str | None = None, **form: str
) -> tuple[int, dict, Mapping[str, str]]:
    headers = {"Authorization": authorization} if authorization else {}
    async with session.post(server.token_url, data=form, headers=headers) as answer:
        return answer.status, await answer.json(), answer.headers


async def refresh(session: aiohttp.ClientSession, server: OAuthServer, refresh_token: str, **form: str) -> tuple:
    return await token(session, server, basic(), grant_type="refresh_token", refresh_token=refresh_token, **form)


async def authorize(session: aiohttp.ClientSession, server: OAuthServer, **overrides: str) -> tuple[int, dict, str]:
    """Follows nothing: the status, the redirect's query parameters and the page text."""
    query = {
        "response_type": "code",
        "client_id": "cli",
        "redirect_uri": "http://127.0.0.1:43127/callback",
        "state": "st-1",
        "code_challenge": RFC_CHALLENGE,
        "code_challenge_method": "S256",
        "scope": "read write",
    }
    query.update(overrides)
    async with session.get(server.authorize_url, params=query, allow_redirects=False) as answer:
        location = urllib.parse.urlsplit(answer.headers.get("Location", ""))
        return answer.status, dict(urllib.parse.parse_qsl(location.query)), await answer.text()


async def test_refresh_rotates_and_keeps_the_previous_token_until_the_new_one_is_used(
    server: OAuthServer, session: aiohttp.ClientSession
) -> None:
    first = server.issue("app", "read write")["refresh_token"]
    status, body, headers = await refresh(session, server, first)
    assert status == 200
    assert list(body) == ["access_token", "token_type", "expires_in", "refresh_token", "scope"]
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "read write"
    assert body["access_token"].startswith("at-") and len(body["access_token"]) == 35
    assert body["refresh_token"].startswith("rt-") and body["refresh_token"] != first
    assert (headers["Cache-Control"], headers["Pragma"]) == ("no-store", "no-cache")
    assert server.is_valid_access_token(body["access_token"])
    # The client "crashed" before saving the new token: the old one still works, and supersedes the lost one.
    status, again, _ = await refresh(session, server, first)
    assert status == 200
    assert (await refresh(session, server, body["refresh_token"]))[1]["error"] == "invalid_grant"
    status, third, _ = await refresh(session, server, again["refresh_token"])
    assert status == 200
    # Once the successor has been used, its predecessor is dead, but the successor itself still has its grace.
    status, dead, _ = await refresh(session, server, first)
    assert (status, dead["error"]) == (400, "invalid_grant") and dead["error_description"]
    assert (await refresh(session, server, again["refresh_token"]))[0] == 200
    assert server.refresh_count == 4


async def test_revocation_makes_refresh_and_access_tokens_invalid(
    server: OAuthServer, session: aiohttp.ClientSession
) -> None:
    seeded, other = server.issue("app"), server.issue("app")
    _, rotated, _ = await refresh(session, server, seeded["refresh_token"])
    server.revoke_refresh(seeded["refresh_token"])
    for revoked in (seeded["refresh_token"], rotated["refresh_token"]):
        assert (await refresh(session, server, revoked))[1]["error"] == "invalid_grant"
    assert not server.is_valid_access_token(rotated["access_token"])
    assert server.is_valid_access_token(other["access_token"])
    server.revoke_all()
    assert (await refresh(session, server, other["refresh_token"]))[1]["error"] == "invalid_grant"
    assert not server.is_valid_access_token(other["access_token"])


async def test_refresh_token_of_another_client_is_invalid_grant(
    server: OAuthServer, session: aiohttp.ClientSession
) -> None:
    theirs = server.issue("cli")["refresh_token"]
    assert (await refresh(session, server, theirs))[1]["error"] == "invalid_grant"
    status, body, _ = await token(session, server, grant_type="refresh_token", refresh_token=theirs, client_id="cli")
    assert status == 200 and body["refresh_token"].startswith("rt-")  # a public client needs no secret


async def test_refresh_may_narrow_the_scope_but_not_widen_it(
    server: OAuthServer, session: aiohttp.ClientSession
) -> None:
    seeded = server.issue("app", "read write")["refresh_token"]
    status, body, _ = await refresh(session, server, seeded, scope="read admin")
    assert (status, body["error"]) == (400, "invalid_scope")
    status, body, _ = await refresh(session, server, seeded, scope="read")
    assert (status, body["scope"]) == (200, "read")
    assert (await refresh(session, server, body["refresh_token"]))[1]["scope"] == "read write"


async def test_client_credentials_by_basic_or_post_give_no_refresh_token(
    server: OAuthServer, session: aiohttp.ClientSession
) -> None:
    status, by_basic, headers = await token(session, server, basic(), grant_type="client_credentials", scope="a b")
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert list(by_basic) == ["access_token", "token_type", "expires_in", "scope"] and by_basic["scope"] == "a b"
    status, by_post, _ = await token(
        session, server, grant_type="client_credentials", client_id="app", client_secret=SECRET
    )
    assert status == 200 and "refresh_token" not in by_post
    assert server.client_credentials_count == 2
    status, public, _ = await token(session, server, grant_type="client_credentials", client_id="cli")
    assert (status, public["error"]) == (400, "unauthorized_client")


async def test_wrong_client_credentials_are_401_invalid_client(
    server: OAuthServer, session: aiohttp.ClientSession
) -> None:
    status, body, headers = await token(session, server, basic(secret="wrong"), grant_type="client_credentials")
    assert (status, body["error"]) == (401, "invalid_client")
    assert headers["WWW-Authenticate"].startswith("Basic")
    status, body, headers = await token(
        session, server, grant_type="client_credentials", client_id="app", client_secret="wrong"
    )
    assert (status, body["error"], "WWW-Authenticate" in headers) == (401, "invalid_client", False)
    status, body, _ = await token(session, server, grant_type="client_credentials", client_id="nobody")
    assert (status, body["error"]) == (401, "invalid_client")
    status, body, _ = await token(session, server, basic(), grant_type="client_credentials", client_secret=SECRET)
    assert (status, body["error"]) == (400, "invalid_request")  # two authentication methods at once
    assert server.client_credentials_count == 0
    assert [outcome for *_, outcome in server.grants] == ["invalid_client"] * 3 + ["invalid_request"]


async def test_malformed_token_requests(server: OAuthServer, session: aiohttp.ClientSession) -> None:
    async with session.post(
        server.token_url, json={"grant_type": "client_credentials"}, headers={"Authorization": basic()}
    ) as answer:
        assert (answer.status, (await answer.json())["error"]) == (400, "invalid_request")
    status, body, _ = await token(session, server, basic(), grant_type="password", username="u", password="p")
    assert (status, body["error"]) == (400, "unsupported_grant_type")
    status, body, _ = await token(session, server, basic())
    assert (status, body["error"]) == (400, "invalid_request")


async def test_pkce_login_exchanges_a_code_once(server: OAuthServer, session: aiohttp.ClientSession) -> None:
    status, redirect, _ = await authorize(session, server)
    assert status == 302 and redirect["state"] == "st-1" and redirect["code"].startswith("code-")
    exchange = {
        "grant_type": "authorization_code",
        "code": redirect["code"],
        "client_id": "cli",
        "redirect_uri": "http://127.0.0.1:43127/callback",
        "code_verifier": RFC_VERIFIER,
    }
    assert (await token(session, server, **{**exchange, "redirect_uri": "http://127.0.0.1:1/callback"}))[1][
        "error"
    ] == "invalid_grant"
    wrong = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    assert (await token(session, server, **{**exchange, "code_verifier": wrong}))[1]["error"] == "invalid_grant"
    assert (await token(session, server, **{**exchange, "code_verifier": "short"}))[1]["error"] == "invalid_request"
    status, body, _ = await token(session, server, **exchange)
    assert status == 200 and body["scope"] == "read write" and body["refresh_token"].startswith("rt-")
    assert (await token(session, server, **exchange))[1]["error"] == "invalid_grant"
    assert server.code_count == 1


async def test_challenge_is_unpadded_base64url_of_the_verifiers_sha256(
    server: OAuthServer, session: aiohttp.ClientSession
) -> None:
    verifier = secrets.token_urlsafe(96)[:128]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).decode().rstrip("=")
    _, redirect, _ = await authorize(session, server, code_challenge=challenge, redirect_uri="http://127.0.0.1:9/cb")
    status, _, _ = await token(
        session,
        server,
        grant_type="authorization_code",
        code=redirect["code"],
        client_id="cli",
        redirect_uri="http://127.0.0.1:9/cb",
        code_verifier=verifier,
    )
    assert status == 200


async def test_authorize_refuses_to_redirect_to_an_unregistered_uri(
    server: OAuthServer, session: aiohttp.ClientSession
) -> None:
    for overrides in (
        {"redirect_uri": "http://evil.example:43127/callback"},
        {"redirect_uri": ""},
        {"client_id": "app", "redirect_uri": "https://app.example/other"},
        {"client_id": "nobody"},
    ):
        status, redirect, text = await authorize(session, server, **overrides)
        assert (status, redirect) == (400, {}) and text.startswith("invalid_request")
    status, redirect, _ = await authorize(session, server, client_id="app", redirect_uri=REDIRECT)
    assert status == 302 and "code" in redirect


async def test_authorize_reports_other_errors_to_the_client_with_its_state(
    server: OAuthServer, session: aiohttp.ClientSession
) -> None:
    for overrides, error in (
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": ""}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ):
        status, redirect, _ = await authorize(session, server, **overrides)
        assert (status, redirect["error"], redirect["state"]) == (302, error, "st-1")
    server.approve = False
    status, redirect, _ = await authorize(session, server)
    assert (status, redirect["error"], redirect["state"], "code" in redirect) == (302, "access_denied", "st-1", False)


async def test_tampered_state_differs_from_the_one_sent(server: OAuthServer, session: aiohttp.ClientSession) -> None:
    server.tamper_state = True
    status, redirect, _ = await authorize(session, server)
    assert status == 302 and redirect["state"] != "st-1" and redirect["code"]


async def test_access_tokens_expire_after_the_expires_in_they_were_issued_with(
    server: OAuthServer, session: aiohttp.ClientSession
) -> None:
    server.expires_in = 1
    _, short, _ = await token(session, server, basic(), grant_type="client_credentials")
    server.expires_in = 3600
    _, long, _ = await token(session, server, basic(), grant_type="client_credentials")
    assert short["expires_in"] == 1 and server.is_valid_access_token(short["access_token"])
    await asyncio.sleep(1.05)
    assert not server.is_valid_access_token(short["access_token"])
    assert server.is_valid_access_token(long["access_token"])
    assert not server.is_valid_access_token("at-" + "0" * 32)


async def test_injected_failures_answer_then_recover(server: OAuthServer, session: aiohttp.ClientSession) -> None:
    server.fail_next(1)
    server.fail_next(1, status=502, html=True)
    status, body, headers = await token(session, server, basic(), grant_type="client_credentials")
    assert (status, body["error"], headers["Retry-After"]) == (503, "temporarily_unavailable", "1")
    async with session.post(
        server.token_url, data={"grant_type": "client_credentials"}, headers={"Authorization": basic()}
    ) as answer:
        assert answer.status == 502 and answer.content_type == "text/html"
    assert (await token(session, server, basic(), grant_type="client_credentials"))[0] == 200
    assert [outcome for *_, outcome in server.grants] == ["fault 503", "fault 502", "ok"]
    assert server.client_credentials_count == 1


async def test_injected_redirects_answer_a_location_and_every_request_is_recorded(
    server: OAuthServer, session: aiohttp.ClientSession
) -> None:
    server.redirect_next("http://127.0.0.1:1/elsewhere?x=1", status=308)
    async with session.post(server.token_url, data={"grant_type": "client_credentials"}, allow_redirects=False,
                            headers={"Authorization": basic()}) as answer:
        assert (answer.status, answer.headers["Location"]) == (308, "http://127.0.0.1:1/elsewhere?x=1")
    async with session.get(server.base_url + "/anything?y=2") as answer:
        assert answer.status == 404
    assert (await token(session, server, basic(), grant_type="client_credentials"))[0] == 200
    received = server.received
    assert [(r.method, r.path_qs) for r in received] == [
        ("POST", "/oauth/token"), ("GET", "/anything?y=2"), ("POST", "/oauth/token")]
    assert received[0].body == b"grant_type=client_credentials"
    assert [outcome for *_, outcome in server.grants] == ["fault 308", "ok"]


async def test_delay_holds_back_the_answer(server: OAuthServer, session: aiohttp.ClientSession) -> None:
    server.delay = 1.0
    with pytest.raises(asyncio.TimeoutError):
        async with session.post(
            server.token_url, data={"grant_type": "client_credentials"}, timeout=aiohttp.ClientTimeout(total=0.2)
        ):
            pass


async def test_going_down_refuses_connections_and_coming_up_keeps_the_port(
    server: OAuthServer, session: aiohttp.ClientSession
) -> None:
    port = server.port
    assert (await token(session, server, basic(), grant_type="client_credentials"))[0] == 200  # a pooled connection
    server.go_down()
    for _ in range(2):
        with pytest.raises(aiohttp.ClientConnectionError):
            await token(session, server, basic(), grant_type="client_credentials")
    server.come_up()
    assert server.port == port
    assert (await token(session, server, basic(), grant_type="client_credentials"))[0] == 200


async def test_issued_secrets_cover_every_token_code_and_client_secret(
    server: OAuthServer, session: aiohttp.ClientSession
) -> None:
    seeded = server.issue("app")
    _, rotated, _ = await refresh(session, server, seeded["refresh_token"])
    _, redirect, _ = await authorize(session, server)
    issued = server.issued_secrets()
    tokens = {seeded["access_token"], seeded["refresh_token"], rotated["access_token"], rotated["refresh_token"]}
    assert {SECRET, redirect["code"], *tokens} <= issued
    assert all(value == SECRET or value.startswith(("at-", "rt-", "code-")) for value in issued)


def post_form(url: str, form: dict, authorization: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, urllib.parse.urlencode(form).encode(), {"Authorization": authorization})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_threaded_server_holds_a_request_until_released() -> None:
    with ThreadedOAuthServer(expires_in=2) as server:
        server.add_client("app", SECRET)
        seeded = server.issue("app")["refresh_token"]
        release = server.hold()
        answers: list[tuple[int, dict]] = []
        form = {"grant_type": "refresh_token", "refresh_token": seeded}
        waiting = threading.Thread(target=lambda: answers.append(post_form(server.token_url, form, basic())))
        waiting.start()
        assert server.held_arrived.wait(10)
        time.sleep(0.1)
        assert answers == [] and server.refresh_count == 1  # decided (rotated) already, but not answered
        release.set()
        waiting.join(10)
        assert answers[0][0] == 200 and answers[0][1]["expires_in"] == 2
        assert post_form(server.token_url, form, basic())[0] == 200  # the grace: the new token was never used


def test_threaded_server_goes_down_and_up_from_the_test_thread() -> None:
    with ThreadedOAuthServer() as server:
        server.add_client("app", SECRET)
        form = {"grant_type": "client_credentials"}
        server.go_down()
        with pytest.raises(urllib.error.URLError) as refused:
            post_form(server.token_url, form, basic())
        assert isinstance(refused.value.reason, ConnectionRefusedError)
        server.come_up()
        assert post_form(server.token_url, form, basic())[0] == 200
