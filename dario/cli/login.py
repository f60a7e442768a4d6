"""`dario login`: the OAuth 2.0 authorization-code flow with PKCE (RFC 7636, S256) through a one-shot callback on
127.0.0.1 (RFC 8252 §7.3). The CLI only sees the code; credential_service redeems it and keeps the tokens."""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import http.server
import secrets
import time
import webbrowser
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

from dario.cli.client import AdminClient, CliError
from dario.config import Paths
from dario.names import check_base_url
from dario.presets import PRESETS, preset_base_url
from dario.v1 import credentials_pb2

CALLBACK_PATH = "/callback"
DEFAULT_TIMEOUT_SECONDS = 300.0


def pkce_pair() -> tuple[str, str]:
    """A code verifier (86 characters of the unreserved set) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorization_url(base: str, client_id: str, redirect_uri: str, scope: str, state: str, challenge: str) -> str:
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "state": state,
             "code_challenge": challenge, "code_challenge_method": "S256"}
    if scope:
        query["scope"] = scope
    return base + ("&" if urlsplit(base).query else "?") + urlencode(query)


@dataclass
class Callback:
    """What the one-shot callback received (the first request to CALLBACK_PATH)."""

    params: dict[str, str] = field(default_factory=dict)
    expected_state: str = ""

    @property
    def received(self) -> bool:
        return bool(self.params)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _CallbackServer

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        parts = urlsplit(self.path)
        if parts.path != CALLBACK_PATH or self.server.callback.received:
            self.send_error(404)
            return
        params = {name: values[0] for name, values in parse_qs(parts.query).items()}
        callback = self.server.callback
        callback.params = params or {"error": "invalid_request"}
        if not secrets.compare_digest(params.get("state", ""), callback.expected_state):
            self._page(400, "Login refused: the answer does not belong to this login (state mismatch).")
        elif "error" in params or "code" not in params:
            self._page(400, f"Login failed: {params.get('error', 'no code')}. You can close this tab.")
        else:
            self._page(200, "dario is logged in. You can close this tab.")

    def _page(self, status: int, text: str) -> None:
        body = f"<!doctype html><title>dario login</title><p>{html.escape(text)}</p>".encode()
        self.send_response(status)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keeps the code out of stderr
        pass


class _CallbackServer(http.server.HTTPServer):
    def __init__(self, callback: Callback, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.callback = callback
        self.timeout = 0.5


def _callback_server(callback: Callback, port: int) -> _CallbackServer:
    """The loopback callback on port (0: any free one). A provider that allows only registered redirect URIs
    needs a fixed one: register http://127.0.0.1:PORT/callback with it and pass --callback-port PORT."""
    try:
        return _CallbackServer(callback, port)
    except OSError as error:
        raise CliError(f"cannot listen on 127.0.0.1:{port} for the login callback: {error.strerror}; "
                       "choose another --callback-port (and register its redirect URI)") from None


def wait_for_callback(server: _CallbackServer, timeout: float) -> Callback:
    deadline = time.monotonic() + timeout
    while not server.callback.received:
        if time.monotonic() > deadline:
            raise CliError(f"no answer from the browser within {timeout:.0f}s; run `dario login` again")
        server.handle_request()
    return server.callback


def ensure_backend(client: AdminClient, arguments: argparse.Namespace) -> None:
    """The backend must exist; with --preset or --kind/--base-url, it is created (without a credential)."""
    stub = client.credentials()
    backends = client.call("credential_service", stub.ListBackends, credentials_pb2.ListBackendsRequest()).backends
    if any(backend.name == arguments.name for backend in backends):
        return
    if arguments.preset:
        preset = PRESETS.get(arguments.preset)
        if preset is None:
            raise CliError(f"unknown preset {arguments.preset!r}; known: {', '.join(PRESETS)}")
        try:
            base_url = arguments.base_url or preset_base_url(arguments.preset, preset)
        except ValueError as error:
            raise CliError(str(error)) from None
        kind = preset.kind
    elif arguments.kind and arguments.base_url:
        kind, base_url = arguments.kind, arguments.base_url
    else:
        raise CliError(f"no backend named {arguments.name!r}: add --preset P (or --kind and --base-url) to create it")
    client.call("credential_service", stub.AddBackend, credentials_pb2.AddBackendRequest(
        name=arguments.name, kind=kind, base_url=base_url, no_credential=True))


def login(paths: Paths, arguments: argparse.Namespace, client_secret: str) -> int:
    for url in (arguments.authorize_url, arguments.token_url):
        problem = check_base_url(url.split("?")[0]) if url else "missing URL"
        if problem:
            raise CliError(problem.replace("base URL", "URL"))
    with AdminClient(paths) as client:
        ensure_backend(client, arguments)  # also proves credential_service runs before the browser opens
        verifier, challenge = pkce_pair()
        callback = Callback(expected_state=secrets.token_urlsafe(24))
        with _callback_server(callback, arguments.callback_port) as server:
            redirect_uri = f"http://127.0.0.1:{server.server_address[1]}{CALLBACK_PATH}"
            url = authorization_url(arguments.authorize_url, arguments.client_id, redirect_uri, arguments.scope,
                                    callback.expected_state, challenge)
            print(f"Open this URL to log in (waiting up to {arguments.timeout:.0f}s):\n{url}", flush=True)
            if not arguments.no_browser:
                webbrowser.open(url)
            params = wait_for_callback(server, arguments.timeout).params
        if not secrets.compare_digest(params.get("state", ""), callback.expected_state):
            raise CliError("login refused: the callback's state does not match this login (a forged redirect?)")
        if "error" in params or "code" not in params:
            description = params.get("error_description", "")
            raise CliError(f"the authorization server refused: {params.get('error', 'no code')} {description}".strip())
        oauth = credentials_pb2.OAuthParams(token_url=arguments.token_url, client_id=arguments.client_id,
                                            client_secret=client_secret, scope=arguments.scope)
        answer = client.call("credential_service", client.credentials().CompleteLogin,
                             credentials_pb2.CompleteLoginRequest(
                                 backend=arguments.name, name=arguments.account, oauth=oauth, code=params["code"],
                                 code_verifier=verifier, redirect_uri=redirect_uri))
    stored = next(c for c in answer.backend.credentials if c.name == arguments.account)
    print(f"logged in: backend {arguments.name}, account {stored.name} (oauth), token valid for "
          f"{max(0.0, stored.expires_at - time.time()):.0f}s; dario refreshes it ahead of expiry")
    return 0


def add_login_arguments(parser: argparse.ArgumentParser, kinds: tuple[str, ...]) -> None:
    parser.add_argument("name", help="the backend the login is for (created with --preset or --kind/--base-url)")
    parser.add_argument("--account", default="default", help="name of the credential (default: default)")
    parser.add_argument("--authorize-url", required=True)
    parser.add_argument("--token-url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--scope", default="")
    parser.add_argument("--client-secret-env", metavar="VAR", help="a confidential client's secret, from VAR")
    parser.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    parser.add_argument("--callback-port", type=int, default=0, metavar="PORT",
                        help="port of the one-shot callback on 127.0.0.1 (default: any free one); providers that "
                             "accept only registered redirect URIs need http://127.0.0.1:PORT/callback registered")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="seconds to wait")
    parser.add_argument("--preset", help="create the backend from this preset when it does not exist")
    parser.add_argument("--kind", choices=kinds)
    parser.add_argument("--base-url")
