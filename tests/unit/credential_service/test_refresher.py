"""The pure parts of OAuth refresh: token answers and errors classified, never quoted with a secret; timing."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from credential_service.refresher import Refresher, TokenError, refresh_form, token_request
from credential_service.vault import AlreadyExists, Credential, Invalid, Vault
from dario.config import Config, CredentialsConfig, Paths

REFRESH = "rt-unit-0123456789abcdef"


@pytest.fixture
async def token_endpoint() -> AsyncIterator[tuple[str, list, list]]:
    """A token endpoint answering from a queue of (status, content type, body[, headers]) and recording the forms."""
    answers: list = []
    forms: list = []

    async def token(request: web.Request) -> web.Response:
        forms.append(dict(await request.post()))
        status, content_type, body, *headers = answers.pop(0)
        return web.Response(status=status, text=body, content_type=content_type, headers=(headers or [{}])[0])

    app = web.Application()
    app.router.add_post("/token", token)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/token", answers, forms
    await runner.cleanup()


async def ask(url: str, secrets: tuple[str, ...] = (REFRESH,)):
    async with aiohttp.ClientSession() as session:
        return await token_request(session, url, {"grant_type": "refresh_token", "refresh_token": REFRESH,
                                                  "client_secret": ""}, 5, secrets)


async def test_a_success_is_read_with_expires_in_as_number_or_string(token_endpoint) -> None:
    url, answers, forms = token_endpoint
    answers.append((200, "application/json", '{"access_token":"at-1","token_type":"Bearer","expires_in":"120",'
                                             '"refresh_token":"rt-2","scope":"api"}'))
    answer = await ask(url)
    assert (answer.access_token, answer.refresh_token, answer.expires_in, answer.scope) == ("at-1", "rt-2", 120, "api")
    assert forms == [{"grant_type": "refresh_token", "refresh_token": REFRESH}]  # empty fields are not sent
    answers.append((200, "application/json", '{"access_token":"at-3","token_type":"Bearer"}'))
    answer = await ask(url)
    assert (answer.refresh_token, answer.expires_in) == ("", 3600.0)  # no rotation; RFC 6749 default lifetime


@pytest.mark.parametrize(
    ("status", "content_type", "body", "permanent", "shown"),
    [
        (400, "application/json", '{"error":"invalid_grant","error_description":"revoked"}', True,
         "400 invalid_grant: revoked"),
        (401, "application/json", '{"error":"invalid_client"}', True, "401 invalid_client"),
        (400, "application/json", '{"error":"invalid_request"}', False, "400 invalid_request"),
        (503, "application/json", '{"error":"temporarily_unavailable"}', False, "503 temporarily_unavailable"),
        (502, "text/html", "<html><body>502 Bad Gateway</body></html>", False, "answered 502"),
        (200, "application/json", '{"token_type":"Bearer"}', False, "without an access_token"),
        (400, "application/json", f'{{"error":"invalid_grant","error_description":"token {REFRESH} is revoked"}}',
         True, "token [REDACTED] is revoked"),
    ],
)
async def test_errors_are_classified_and_never_quote_a_secret(token_endpoint, status, content_type, body,
                                                               permanent, shown) -> None:
    url, answers, _ = token_endpoint
    answers.append((status, content_type, body))
    with pytest.raises(TokenError) as raised:
        await ask(url)
    assert raised.value.permanent is permanent
    assert shown in str(raised.value)
    assert REFRESH not in str(raised.value) and "<html>" not in str(raised.value)


async def test_an_unreachable_endpoint_is_a_transient_error() -> None:
    with pytest.raises(TokenError) as raised:
        await ask("http://127.0.0.1:9/token")
    assert not raised.value.permanent and "could not reach the token endpoint" in str(raised.value)


@pytest.mark.parametrize(
    ("status", "location", "shown"),
    [
        (307, "https://user:{secret}@elsewhere.example:8443/token?grant={secret}", "https://elsewhere.example:8443"),
        (308, "/moved/token?x=1", "{origin}"),  # relative: resolved against the endpoint, still only an origin
        (301, "//cdn.example/t", "http://cdn.example"),
        (302, "", "a redirect without a Location"),
        (303, "http://[broken", "an unreadable URL"),
    ],
)
async def test_a_redirect_is_a_retryable_error_naming_only_origins(token_endpoint, status, location, shown) -> None:
    url, answers, forms = token_endpoint
    origin = url.removesuffix("/token")
    answers.append((status, "text/plain", "", {"Location": location.format(secret=REFRESH)} if location else {}))
    with pytest.raises(TokenError) as raised:
        await ask(url)
    message = str(raised.value)
    assert not raised.value.permanent
    assert f"the token endpoint {origin} answered {status}" in message and shown.format(origin=origin) in message
    assert REFRESH not in message and "user" not in message and "/token" not in message and "moved" not in message
    assert len(forms) == 1 and not answers  # asked once; the redirect was not followed to the same server either


async def test_a_token_url_outside_the_https_rule_is_never_contacted(token_endpoint) -> None:
    url, answers, forms = token_endpoint
    for refused in ("http://example.invalid/token", "ftp://127.0.0.1/token", "file:///etc/passwd"):
        with pytest.raises(TokenError) as raised:
            await ask(refused)
        assert raised.value.permanent and "nothing was sent" in str(raised.value)
    answers.append((200, "application/json", '{"access_token":"at-loopback"}'))
    assert (await ask(url)).access_token == "at-loopback"  # plain http on loopback stays allowed


def test_the_refresh_form_of_each_kind() -> None:
    oauth = Credential("a", "at", kind="oauth", refresh_token=REFRESH, client_id="c", token_url="https://x/t")
    assert refresh_form(oauth) == {"grant_type": "refresh_token", "refresh_token": REFRESH, "client_id": "c",
                                   "client_secret": "", "scope": ""}
    client = Credential("b", "", kind="client_credentials", client_id="c", client_secret="s", scope="api",
                        token_url="https://x/t")
    assert refresh_form(client)["grant_type"] == "client_credentials"
    assert "refresh_token" not in refresh_form(client)


def test_tokens_are_due_ahead_of_expiry_by_the_setting_or_half_their_lifetime(tmp_path: pathlib.Path) -> None:
    config = Config(paths=Paths(tmp_path), credentials=CredentialsConfig(refresh_ahead_seconds=300))
    refresher = Refresher(Vault(tmp_path / "vault.json"), config, None, None)
    hour = Credential("a", "at", kind="oauth", expires_at=10_000.0, last_refresh=6_400.0)
    assert refresher.due_at(hour) == 9_700.0
    short = Credential("a", "at", kind="oauth", expires_at=10_000.0, last_refresh=9_940.0)  # lives 60 s
    assert refresher.due_at(short) == 9_970.0
    assert refresher.due_at(Credential("a", "", kind="client_credentials")) == 0.0  # no token yet: due now


def test_oauth_credentials_in_the_vault(tmp_path: pathlib.Path) -> None:
    vault = Vault(tmp_path / "vault.json")
    vault.add_backend("b", "anthropic", "https://api.example/v1", no_credential=True)
    base = dict(kind="oauth", refresh_token=REFRESH, client_id="c", expires_at=5_000.0)
    for token_url, problem in (("http://auth.example/token", "must be https"), ("ftp://x/t", "http:// or https://")):
        with pytest.raises(Invalid, match=problem):
            vault.add_credential("b", Credential("o", "at", token_url=token_url, **base))
    with pytest.raises(Invalid, match="refresh token"):
        vault.add_credential("b", Credential("o", "at", kind="oauth", token_url="https://a/t"))
    vault.add_credential("b", Credential("o", "at-1", token_url="http://127.0.0.1:1/t", **base))
    with pytest.raises(AlreadyExists):
        vault.add_credential("b", Credential("o", "at-1", token_url="http://127.0.0.1:1/t", **base))
    grant = vault.lease("b", "o")
    assert (grant.header_name, grant.header_value, grant.expires_at) == ("authorization", "Bearer at-1", 5_000.0)
    revision = grant.revision
    assert vault.update_credential("b", "o", state="needs-login").revision == revision  # no new secret
    updated = vault.update_credential("b", "o", secret="at-2", refresh_token="rt-3")
    assert updated.revision > revision
    reloaded = Vault(vault.path).credential("b", "o")
    assert (reloaded.secret, reloaded.refresh_token, reloaded.state) == ("at-2", "rt-3", "needs-login")
    assert reloaded.hint == "" and "at-2" not in repr(reloaded) and "rt-3" not in repr(reloaded)
    vault.remove_credential("b", "o")
    assert "at-2" not in vault.path.read_text() and "rt-3" not in vault.path.read_text()
