"""A token endpoint answering a redirect: credential_service never follows it (refresh, client credentials, the
PKCE code redemption), so the refresh token, the client secret and the code never reach the Location's host.

The real credential_service runs against a scripted token server told to redirect its next answer to a second
server, which records every request it receives: it must receive none.
"""

from __future__ import annotations

import pathlib
import time
from collections.abc import Iterator

import grpc
import pytest

from dario.cli.login import pkce_pair
from dario.testing.oauth_server import OAuthServer, ThreadedOAuthServer
from dario.testing.processes import running_module
from dario.v1 import credentials_pb2, credentials_pb2_grpc

pytestmark = pytest.mark.timeout(120)
CLIENT_ID = "dario-redirect-client"
CLIENT_SECRET = "client-secret-redirect-0123456789"
CONFIG = """
[credentials]
refresh_retry_seconds = 0.05
refresh_retry_max_seconds = 0.2
token_timeout_seconds = 3
"""
REDIRECTS = (307, 308, 302)


@pytest.fixture(scope="module")
def token_server() -> Iterator[OAuthServer]:
    with ThreadedOAuthServer() as server:
        server.add_client(CLIENT_ID, CLIENT_SECRET, loopback=True)
        yield server


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[OAuthServer]:
    """The host the redirects point to; it knows the client too, so following a redirect would succeed there."""
    with ThreadedOAuthServer() as server:
        server.add_client(CLIENT_ID, CLIENT_SECRET, loopback=True)
        yield server


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pathlib.Path]:
    home = tmp_path_factory.mktemp("redirects") / "home"
    home.mkdir(mode=0o700, parents=True)
    (home / "config.toml").write_text(CONFIG)
    with running_module("credential_service", home, home / "run" / "credential.sock"):
        with grpc.insecure_channel(f"unix:{home / 'run' / 'credential.sock'}") as channel:
            credentials_pb2_grpc.CredentialsStub(channel).AddBackend(credentials_pb2.AddBackendRequest(
                name="provider", kind="openai", base_url="http://127.0.0.1:9/v1", no_credential=True), timeout=5)
        yield home


@pytest.fixture
def stub(home: pathlib.Path) -> Iterator[credentials_pb2_grpc.CredentialsStub]:
    with grpc.insecure_channel(f"unix:{home / 'run' / 'credential.sock'}") as channel:
        yield credentials_pb2_grpc.CredentialsStub(channel)


def location(elsewhere: OAuthServer) -> str:
    """A Location whose path and query must never appear in a message."""
    return elsewhere.token_url + "?session=location-query-marker"


def assert_names_only_origins(message: str, token_server: OAuthServer, elsewhere: OAuthServer,
                              secrets: tuple[str, ...]) -> None:
    assert token_server.base_url in message and elsewhere.base_url in message, message
    assert "/oauth/token" not in message and "location-query-marker" not in message, message
    assert not [secret for secret in secrets if secret in message], message


def credential_info(stub: credentials_pb2_grpc.CredentialsStub, name: str) -> credentials_pb2.CredentialInfo:
    backends = stub.ListBackends(credentials_pb2.ListBackendsRequest(), timeout=5).backends
    return next(c for b in backends if b.name == "provider" for c in b.credentials if c.name == name)


def wait_for_state(stub: credentials_pb2_grpc.CredentialsStub, name: str, state: str) -> credentials_pb2.CredentialInfo:
    deadline = time.monotonic() + 10
    while (info := credential_info(stub, name)).state != state:
        assert time.monotonic() < deadline, f"{name} stayed {info.state} ({info.last_error})"
        time.sleep(0.05)
    return info


@pytest.mark.parametrize("status", REDIRECTS)
def test_a_redirected_refresh_fails_retryably_and_nothing_reaches_the_location(
    stub: credentials_pb2_grpc.CredentialsStub, token_server: OAuthServer, elsewhere: OAuthServer, status: int
) -> None:
    name = f"refresh-{status}"
    seed = token_server.issue(CLIENT_ID, "api")  # lives an hour: only the forced refresh below asks for a token
    stub.AddCredential(credentials_pb2.AddCredentialRequest(
        backend="provider", name=name, kind="oauth", oauth=credentials_pb2.OAuthParams(
            token_url=token_server.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, scope="api",
            access_token=seed["access_token"], refresh_token=seed["refresh_token"],
            expires_in=seed["expires_in"])), timeout=10)
    posts_before = len(token_server.received)
    token_server.redirect_next(location(elsewhere), status=status)
    answer = stub.Refresh(credentials_pb2.RefreshRequest(backend="provider", credential=name, force=True),
                          timeout=10)
    [result] = answer.results
    assert not result.refreshed
    assert f"answered {status}" in result.error and "never followed" in result.error
    assert_names_only_origins(result.error, token_server, elsewhere,
                              (seed["refresh_token"], seed["access_token"], CLIENT_SECRET))
    assert elsewhere.received == [], "a request reached the redirect's Location"
    assert len(token_server.received) == posts_before + 1  # one POST, to the configured endpoint only
    # No verdict on the grant: the credential is failing (its token still serves), not needs-login, and the
    # next refresh from the configured endpoint works.
    assert result.credential.state == "failing"
    again = stub.Refresh(credentials_pb2.RefreshRequest(backend="provider", credential=name, force=True),
                         timeout=10)
    assert again.results[0].refreshed and again.results[0].credential.state == "ok"
    assert elsewhere.received == []


def test_a_redirected_client_credentials_grant_sends_the_secret_nowhere_else(
    stub: credentials_pb2_grpc.CredentialsStub, token_server: OAuthServer, elsewhere: OAuthServer
) -> None:
    token_server.redirect_next(location(elsewhere), status=307)
    added = stub.AddCredential(credentials_pb2.AddCredentialRequest(
        backend="provider", name="app", kind="client_credentials", oauth=credentials_pb2.OAuthParams(
            token_url=token_server.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, scope="api")),
        timeout=10)
    stored = next(c for c in added.backend.credentials if c.name == "app")
    assert stored.state == "failing"  # the first token request was the redirected one
    assert_names_only_origins(stored.last_error, token_server, elsewhere, (CLIENT_SECRET,))
    assert CLIENT_SECRET not in str(added)
    wait_for_state(stub, "app", "ok")  # retried against the configured endpoint
    assert elsewhere.received == []


def test_a_redirected_code_redemption_is_a_refused_login_and_the_code_goes_nowhere_else(
    stub: credentials_pb2_grpc.CredentialsStub, token_server: OAuthServer, elsewhere: OAuthServer
) -> None:
    verifier, _ = pkce_pair()
    code = "code-redirect-test-0123456789abcdef"
    token_server.redirect_next(location(elsewhere), status=308)
    with pytest.raises(grpc.RpcError) as raised:
        stub.CompleteLogin(credentials_pb2.CompleteLoginRequest(
            backend="provider", name="login", code=code, code_verifier=verifier,
            redirect_uri="http://127.0.0.1:1/callback", oauth=credentials_pb2.OAuthParams(
                token_url=token_server.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)), timeout=10)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert_names_only_origins(raised.value.details(), token_server, elsewhere, (code, verifier, CLIENT_SECRET))
    assert elsewhere.received == []
    assert "login" not in {c.name for b in stub.ListBackends(credentials_pb2.ListBackendsRequest(), timeout=5).backends
                           for c in b.credentials}
