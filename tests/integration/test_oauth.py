"""OAuth credentials end to end: a scripted RFC 6749 token server, the real services, the real frontend, a
scripted upstream that accepts only access tokens the token server issued and has not seen expire or revoked.

credential_service runs with short timings (config.toml [credentials]) and tokens live 3 seconds, so several
expiries pass within a test.

Why one module over 400 lines: its tests share one running token server, stack and upstream (module fixtures).
"""

from __future__ import annotations

import asyncio
import json
import logging
import pathlib
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator

import aiohttp
import grpc
import openai
import pytest
from aiohttp.test_utils import TestServer

from dario.enums import CREDENTIAL_STATES
from dario.testing.oauth_server import OAuthServer, ThreadedOAuthServer
from dario.testing.processes import REPO, environment
from dario.testing.scripted_upstream import ScriptedUpstream
from dario.testing.stack import Services, running_frontend, running_services, wait_for_backends
from dario.testing.supervised import free_port
from dario.v1 import credentials_pb2, credentials_pb2_grpc
from frontend.state import STATE

pytestmark = pytest.mark.timeout(180)
CLIENT_ID = "dario-test-client"
CLIENT_SECRET = "client-secret-0123456789abcdef"
MESSAGES = [{"role": "user", "content": "hi"}]
BACKENDS = ("steady", "burst", "flaky", "down", "refused", "cc", "login", "denied")
CONFIG = """
[credentials]
refresh_ahead_seconds = 1.5
refresh_retry_seconds = 0.05
refresh_retry_max_seconds = 0.2
token_timeout_seconds = 3
""" + "".join(f'\n[[routes]]\nmatch = "{name}-*"\nbackend = "{name}"\n' for name in BACKENDS)


@pytest.fixture(scope="module")
def oauth() -> Iterator[OAuthServer]:
    with ThreadedOAuthServer(expires_in=3) as server:
        server.add_client(CLIENT_ID, CLIENT_SECRET, loopback=True)
        yield server


API_KEY = "test-key-oauth-module-0123456789"
REJECTED: set[str] = set()  # access tokens the upstream refuses although the token server still counts them valid


@pytest.fixture(scope="module")
def guarded(upstream: ScriptedUpstream, oauth: OAuthServer) -> Iterator[ScriptedUpstream]:
    """The module's upstream, accepting only live access tokens (and the one API key of the `refused` test)."""
    upstream.accept_token = lambda token: token == API_KEY or (
        token not in REJECTED and oauth.is_valid_access_token(token))
    yield upstream
    upstream.accept_token = None


@pytest.fixture(autouse=True)
def no_secret_in_frontend_logs(caplog: pytest.LogCaptureFixture, oauth: OAuthServer) -> Iterator[None]:
    """The frontend runs in the test's process: after each test, its log records must hold no secret."""
    caplog.set_level(logging.DEBUG)
    yield
    text = caplog.text
    leaked = [secret[:6] for secret in oauth.issued_secrets() | {API_KEY} if secret in text]
    assert not leaked, f"secrets in the frontend's log: {leaked}"


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, guarded: ScriptedUpstream) -> Iterator[Services]:
    home = tmp_path_factory.mktemp("oauth") / "home"
    home.mkdir(mode=0o700, parents=True)
    (home / "config.toml").write_text(CONFIG)
    with running_services(home) as started:
        with grpc.insecure_channel(f"unix:{started.config.paths.credential_socket}") as channel:
            stub = credentials_pb2_grpc.CredentialsStub(channel)
            for name in BACKENDS:
                stub.AddBackend(credentials_pb2.AddBackendRequest(
                    name=name, kind=credentials_pb2.BACKEND_KIND_OPENAI, base_url=guarded.base_url,
                    no_credential=True), timeout=5)
        yield started


@pytest.fixture
async def frontend(services: Services, guarded: ScriptedUpstream) -> AsyncIterator[TestServer]:
    async with running_frontend(services.config) as server:
        await wait_for_backends(server, len(BACKENDS))
        yield server


@pytest.fixture(autouse=True)
def one_test_one_login(services: Services) -> Iterator[None]:
    """Each test's credentials leave with it: their refreshes must not mix with the next test's token requests."""
    yield
    channel, credentials = stub(services)
    with channel:
        for backend in credentials.ListBackends(credentials_pb2.ListBackendsRequest(), timeout=5).backends:
            for credential in backend.credentials:
                credentials.RemoveCredential(credentials_pb2.RemoveCredentialRequest(
                    backend=backend.name, name=credential.name), timeout=5)


def stub(services: Services) -> tuple[grpc.Channel, credentials_pb2_grpc.CredentialsStub]:
    channel = grpc.insecure_channel(f"unix:{services.config.paths.credential_socket}")
    return channel, credentials_pb2_grpc.CredentialsStub(channel)


def add_oauth(services: Services, oauth: OAuthServer, backend: str, name: str = "default") -> dict:
    """An oauth credential seeded as if its user had just logged in; returns the token answer it started from."""
    seed = oauth.issue(CLIENT_ID, "api")
    params = credentials_pb2.OAuthParams(token_url=oauth.token_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                         scope="api", access_token=seed["access_token"],
                                         refresh_token=seed["refresh_token"], expires_in=seed["expires_in"])
    channel, credentials = stub(services)
    with channel:
        credentials.AddCredential(credentials_pb2.AddCredentialRequest(
            backend=backend, name=name, kind=credentials_pb2.CREDENTIAL_KIND_OAUTH, oauth=params), timeout=10)
    return seed


async def wait_for_lease(server: TestServer, backend: str, name: str = "default") -> None:
    client = server.app[STATE].credentials
    deadline = time.monotonic() + 10
    while (backend, name) not in client._leases or backend not in {
            b.name for b in client.catalog.backends if b.usable()}:
        assert time.monotonic() < deadline, f"no lease for {backend}/{name} pushed to the frontend"
        await asyncio.sleep(0.02)


def sdk(server: TestServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=str(server.make_url("/v1")), api_key="dario", max_retries=0)


async def status_of(server: TestServer, backend: str, name: str = "default") -> dict:
    async with aiohttp.ClientSession() as session, session.get(server.make_url("/status")) as answer:
        document = await answer.json()
    return next(c for c in document["credentials"] if (c["backend"], c["name"]) == (backend, name))


def grants_since(oauth: OAuthServer, since: float, grant_type: str = "refresh_token") -> list[str]:
    return [outcome for at, kind, _, outcome in oauth.grants if at >= since and kind == grant_type]


async def test_steady_traffic_across_several_expiries_succeeds_with_one_refresh_per_token_lifetime(
    frontend: TestServer, services: Services, oauth: OAuthServer, guarded: ScriptedUpstream
) -> None:
    add_oauth(services, oauth, "steady")
    await wait_for_lease(frontend, "steady")
    started, duration, statuses = time.time(), 10.0, []
    client = sdk(frontend)
    while time.time() - started < duration:  # bounded: stops after `duration` seconds
        raw = await client.chat.completions.with_raw_response.create(model="steady-model", messages=MESSAGES)
        statuses.append(raw.status_code)
        await asyncio.sleep(0.02)
    refreshes = grants_since(oauth, started)
    lifetimes = duration / 3 * 2  # tokens live 3 s and are replaced 1.5 s before expiry: one per 1.5 s
    print(f"steady traffic: {len(statuses)} requests over {duration:.0f}s, all {set(statuses)}; "
          f"{len(refreshes)} refreshes (tokens live 3 s, refreshed 1.5 s ahead); "
          f"lease fetches by the frontend: {frontend.app[STATE].credentials.lease_fetches}")
    assert statuses and set(statuses) == {200}
    assert refreshes == ["ok"] * len(refreshes)
    assert lifetimes - 2 <= len(refreshes) <= lifetimes + 1
    assert frontend.app[STATE].credentials.lease_fetches == 0  # every rotation arrived pushed
    assert frontend.app[STATE].credentials.forced_refreshes == 0  # and ahead of time: no 401 on the way


async def test_many_requests_rejected_at_once_cause_exactly_one_refresh_and_all_succeed(
    frontend: TestServer, services: Services, oauth: OAuthServer, guarded: ScriptedUpstream
) -> None:
    oauth.expires_in = 3600  # no scheduled refresh during the test
    try:
        seed = add_oauth(services, oauth, "burst")
        await wait_for_lease(frontend, "burst")
        REJECTED.add(seed["access_token"])  # the upstream stops accepting it, as at expiry
        before = time.time()
        client = sdk(frontend)
        answers = await asyncio.gather(*(
            client.chat.completions.with_raw_response.create(model="burst-model", messages=MESSAGES)
            for _ in range(40)))
    finally:
        oauth.expires_in = 3
    assert [answer.status_code for answer in answers] == [200] * 40
    assert grants_since(oauth, before) == ["ok"]
    # Each request that met the rejected token asked (later ones found the pushed lease); one refresh served all.
    assert 1 <= frontend.app[STATE].credentials.forced_refreshes <= 40


async def test_a_refresh_failing_three_times_is_retried_with_backoff_and_traffic_never_notices(
    frontend: TestServer, services: Services, oauth: OAuthServer, caplog: pytest.LogCaptureFixture
) -> None:
    add_oauth(services, oauth, "flaky")
    await wait_for_lease(frontend, "flaky")
    started = time.time()
    oauth.fail_next(3, status=503)
    client, statuses = sdk(frontend), []
    while time.time() - started < 4.0:
        raw = await client.chat.completions.with_raw_response.create(model="flaky-model", messages=MESSAGES)
        statuses.append(raw.status_code)
        await asyncio.sleep(0.05)
    outcomes = grants_since(oauth, started)
    assert set(statuses) == {200}
    assert outcomes[:4] == ["fault 503"] * 3 + ["ok"]
    assert (await status_of(frontend, "flaky"))["state"] == "ok"
    log = (services.home / "credential_service.test.log").read_text()
    assert "refresh 3 of flaky/default failed: the token endpoint answered 503 temporarily_unavailable" in log


async def test_token_server_down_for_a_while_then_back_recovers_without_a_failed_request(
    frontend: TestServer, services: Services, oauth: OAuthServer
) -> None:
    oauth.expires_in = 6  # refreshed 1.5 s ahead: the endpoint can be down for a second around that time
    try:
        add_oauth(services, oauth, "down")
        await wait_for_lease(frontend, "down")
        await asyncio.sleep(4.2)  # the refresh is due at 4.5 s
        oauth.go_down()
        down_at, client, statuses = time.time(), sdk(frontend), []
        failing_seen = False
        while time.time() - down_at < 1.0:
            raw = await client.chat.completions.with_raw_response.create(model="down-model", messages=MESSAGES)
            statuses.append(raw.status_code)
            failing_seen = failing_seen or (await status_of(frontend, "down"))["state"] == "failing"
            await asyncio.sleep(0.05)
        oauth.come_up()
        deadline = time.time() + 5
        while (await status_of(frontend, "down"))["state"] != "ok" or not grants_since(oauth, down_at):
            assert time.time() < deadline, "no successful refresh after the token endpoint came back"
            await asyncio.sleep(0.05)
        raw = await client.chat.completions.with_raw_response.create(model="down-model", messages=MESSAGES)
        statuses.append(raw.status_code)
    finally:
        oauth.come_up()
        oauth.expires_in = 3
    assert failing_seen  # /status said so while the endpoint was unreachable
    assert set(statuses) == {200}
    assert grants_since(oauth, down_at) == ["ok"]  # connection refused never reached the server's books


async def test_invalid_grant_marks_needs_login_and_the_other_credential_keeps_serving(
    frontend: TestServer, services: Services, oauth: OAuthServer, guarded: ScriptedUpstream
) -> None:
    channel, credentials = stub(services)
    with channel:
        credentials.AddCredential(credentials_pb2.AddCredentialRequest(
            backend="refused", name="key", kind=credentials_pb2.CREDENTIAL_KIND_API_KEY, api_key=API_KEY), timeout=5)
    seed = add_oauth(services, oauth, "refused", name="login")
    await wait_for_lease(frontend, "refused", "login")
    oauth.revoke_refresh(seed["refresh_token"])  # the user revoked dario's access at the provider
    deadline = time.time() + 10
    while (await status_of(frontend, "refused", "login"))["state"] != "needs-login":
        assert time.time() < deadline, "the refused grant never showed as needs-login"
        await asyncio.sleep(0.1)
    status = await status_of(frontend, "refused", "login")
    assert "invalid_grant" in status["last_error"]
    client = sdk(frontend)
    for _ in range(5):
        raw = await client.chat.completions.with_raw_response.create(model="refused-model", messages=MESSAGES)
        assert raw.status_code == 200 and raw.headers["x-dario-credential"] == "key"
    cli = subprocess.run([sys.executable, "-m", "dario.cli.main", "status"], env=environment(services.home),
                         capture_output=True, text=True, timeout=60, cwd=REPO)
    assert "needs-login" in cli.stdout
    assert seed["refresh_token"] not in cli.stdout + cli.stderr


async def test_a_401_whose_refresh_is_refused_reaches_the_client_in_its_format(
    frontend: TestServer, services: Services, oauth: OAuthServer, guarded: ScriptedUpstream
) -> None:
    oauth.expires_in = 3600
    try:
        seed = add_oauth(services, oauth, "denied")
        await wait_for_lease(frontend, "denied")
    finally:
        oauth.expires_in = 3
    REJECTED.add(seed["access_token"])
    oauth.revoke_refresh(seed["refresh_token"])
    with pytest.raises(openai.AuthenticationError) as raised:
        await sdk(frontend).chat.completions.create(model="denied-model", messages=MESSAGES)
    assert raised.value.status_code == 401
    assert raised.value.body["code"] == "invalid_api_key"  # the upstream's own error, passed on


async def test_client_credentials_get_a_token_at_once_and_a_new_one_before_expiry(
    frontend: TestServer, services: Services, oauth: OAuthServer
) -> None:
    before = time.time()
    params = credentials_pb2.OAuthParams(token_url=oauth.token_url, client_id=CLIENT_ID,
                                         client_secret=CLIENT_SECRET, scope="api")
    channel, credentials = stub(services)
    with channel:
        added = credentials.AddCredential(credentials_pb2.AddCredentialRequest(
            backend="cc", name="app", kind=credentials_pb2.CREDENTIAL_KIND_CLIENT_CREDENTIALS, oauth=params),
            timeout=10)
    [stored] = added.backend.credentials
    assert CREDENTIAL_STATES.name(stored.state) == "ok" and stored.expires_at > before
    assert CLIENT_SECRET not in str(added)
    await wait_for_lease(frontend, "cc", "app")
    client, statuses = sdk(frontend), []
    while time.time() - before < 5:
        raw = await client.chat.completions.with_raw_response.create(model="cc-model", messages=MESSAGES)
        statuses.append(raw.status_code)
        await asyncio.sleep(0.05)
    assert set(statuses) == {200}
    assert 3 <= len(grants_since(oauth, before, "client_credentials")) <= 5


def run_login(home: pathlib.Path, oauth: OAuthServer, *extra: str) -> tuple[subprocess.Popen, str]:
    """Starts `dario login --no-browser` and returns it with the authorization URL it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dario.cli.main", "login", "login", "--authorize-url", oauth.authorize_url,
         "--token-url", oauth.token_url, "--client-id", CLIENT_ID, "--client-secret-env", "TEST_CLIENT_SECRET",
         "--scope", "api offline_access", "--no-browser", "--timeout", "30", *extra],
        env=environment(home, {"TEST_CLIENT_SECRET": CLIENT_SECRET}), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, cwd=REPO)
    for line in process.stdout:
        if line.startswith("http"):
            return process, line.strip()
    raise AssertionError(f"no URL printed: {process.stderr.read()}")


def browse(url: str) -> tuple[int, str]:
    """What a browser does: follow the authorization server's redirect to dario's loopback callback."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def test_pkce_login_end_to_end_then_requests_use_the_new_login(
    frontend: TestServer, services: Services, oauth: OAuthServer
) -> None:
    process, url = run_login(services.home, oauth)
    assert "code_challenge_method=S256" in url and "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in url
    before = oauth.code_count
    status, page = await asyncio.to_thread(browse, url)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert status == 200 and "logged in" in page
    assert oauth.code_count == before + 1
    assert "logged in: backend login, account default (oauth)" in out
    await wait_for_lease(frontend, "login")
    answer = await sdk(frontend).chat.completions.create(model="login-model", messages=MESSAGES)
    assert answer.choices[0].message.content
    for secret in oauth.issued_secrets():
        assert secret not in out + err


async def test_login_refuses_a_callback_with_the_wrong_state(services: Services, oauth: OAuthServer) -> None:
    oauth.tamper_state = True
    try:
        before = oauth.code_count
        process, url = run_login(services.home, oauth, "--account", "tampered")
        status, page = await asyncio.to_thread(browse, url)
        out, err = process.communicate(timeout=30)
    finally:
        oauth.tamper_state = False
    assert process.returncode == 1
    assert status == 400 and "state mismatch" in page
    assert "state does not match" in err
    assert oauth.code_count == before  # the code was never redeemed


async def test_login_callback_port_is_the_one_asked_for_so_a_registered_redirect_uri_matches(
    services: Services, oauth: OAuthServer
) -> None:
    port = free_port()
    process, url = run_login(services.home, oauth, "--account", "fixed-port", "--callback-port", str(port))
    assert f"redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Fcallback" in url
    status, page = await asyncio.to_thread(browse, url)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert status == 200 and "logged in: backend login, account fixed-port (oauth)" in out
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        taken_port = taken.getsockname()[1]
        refused = subprocess.run(
            [sys.executable, "-m", "dario.cli.main", "login", "login", "--authorize-url", oauth.authorize_url,
             "--token-url", oauth.token_url, "--client-id", CLIENT_ID, "--no-browser", "--timeout", "5",
             "--callback-port", str(taken_port)],
            env=environment(services.home), capture_output=True, text=True, timeout=60, cwd=REPO)
    assert refused.returncode == 1
    assert f"cannot listen on 127.0.0.1:{taken_port} for the login callback" in refused.stderr


def test_no_log_holds_any_secret_the_tests_used(services: Services, oauth: OAuthServer,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """Runs last in the module: the services' log files and the frontend's log records are searched."""
    secrets = oauth.issued_secrets() | {API_KEY}
    assert len(secrets) > 20
    texts = {path.name: path.read_text(errors="replace") for path in services.home.glob("*.log")}
    texts["vault mode"] = oct((services.home / "vault.json").stat().st_mode & 0o777)
    assert texts["vault mode"] == "0o600"
    leaked = {name: sorted(s[:6] for s in secrets if s in text) for name, text in texts.items()}
    assert all(not found for found in leaked.values()), leaked
    assert re.search(r"refreshed steady/default \(oauth\)", texts["credential_service.test.log"])
    # Every test removed its credentials (as `dario logout` does): no token is left in the vault either.
    vault = (services.home / "vault.json").read_text()
    assert len(json.loads(vault)["backends"]) == len(BACKENDS)
    assert not [secret for secret in secrets if secret in vault]
