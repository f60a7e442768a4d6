"""A scripted OAuth 2.0 authorization and token server on 127.0.0.1 (RFC 6749, RFC 7636 PKCE, RFC 8252 loopback).

Tests register clients, let dario refresh, log in and fetch client-credentials tokens, inject faults (failures, delay,
redirects, a listener that goes down, a request held mid-flight) and read what happened (every request received,
raw); all public state is thread-safe.

Why one module over 400 lines: the authorization and token endpoints share one store of clients, codes and
tokens under one lock, and the injected faults and the listener that goes down wrap both; split, each half would
reach into the other's state.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import hashlib
import http
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import MultiDict, MultiMapping
from yarl import URL

from dario.json_types import JsonObject
from dario.testing.threaded import Threaded

VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")  # RFC 7636 §4.1
CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of a SHA-256 digest, no padding
CODE_LIFETIME = 600.0
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass
class OAuthError(Exception):
    code: str
    description: str
    status: int = 400
    basic: bool = False  # the client tried HTTP Basic: a 401 then carries WWW-Authenticate (RFC 6749 §5.2)


@dataclass
class Client:
    secret: str | None
    redirect_uris: list[str]
    loopback: bool

    def allows(self, redirect_uri: str) -> bool:
        """A registered URI exactly, or (RFC 8252 §7.3) any port of the loopback IP when registered for it."""
        if redirect_uri in self.redirect_uris:
            return True
        url = urlsplit(redirect_uri)
        return self.loopback and url.scheme == "http" and url.hostname in ("127.0.0.1", "::1") and not url.fragment


@dataclass
class AccessToken:
    client_id: str
    expires_at: float
    family: str | None  # the authorization grant it came from; None for client credentials
    revoked: bool = False


@dataclass
class RefreshToken:
    client_id: str
    scope: str
    family: str
    parent: str | None = None  # the token this one replaced: alive until this one is first used
    child: str | None = None  # the token issued in exchange for this one
    alive: bool = True


@dataclass
class Code:
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str
    expires_at: float = field(default_factory=lambda: time.time() + CODE_LIFETIME)
    used: bool = False


Form = MultiMapping[str]  # a urlencoded form or a query: text fields, repeatable


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def presented_credentials(authorization: str, form: Form) -> tuple[str, str | None, bool]:
    """The client id and secret a token request presents, and whether by HTTP Basic (RFC 6749 §2.3.1)."""
    if authorization[:6].lower() != "basic ":
        return form.get("client_id", ""), form.get("client_secret"), False
    try:
        client_id, secret = base64.b64decode(authorization[6:], validate=True).decode().split(":", 1)
    except ValueError:
        raise OAuthError("invalid_client", "malformed HTTP Basic client credentials", 401, basic=True) from None
    if "client_secret" in form:
        raise OAuthError("invalid_request", "use one client authentication method, not Basic and client_secret")
    return unquote_plus(client_id), unquote_plus(secret), True


def narrowed(form: Form, granted: str) -> str:
    """The scope a refresh asks for: omitted means all that was granted, more than that is refused (RFC 6749 §6)."""
    if "scope" not in form:
        return granted
    requested = form["scope"].split()
    if not set(requested) <= set(granted.split()):
        raise OAuthError("invalid_scope", f"the requested scope exceeds the scope granted ({granted!r})")
    return " ".join(requested)


def error_response(error: OAuthError) -> web.Response:
    headers = dict(NO_STORE)
    if error.status == 401 and error.basic:
        headers["WWW-Authenticate"] = 'Basic realm="oauth"'
    body = {"error": error.code, "error_description": error.description}
    return web.json_response(body, status=error.status, headers=headers)


@dataclass(frozen=True)
class Received:
    """One HTTP request as it reached the server, whatever its path or method (the body as sent)."""

    method: str
    path_qs: str
    body: bytes


@dataclass(frozen=True)
class Fault:
    status: int
    html: bool = False
    location: str = ""  # a 3xx's Location


def fault_response(fault: Fault) -> web.Response:
    status, html = fault.status, fault.html
    headers = {**NO_STORE, **({"Retry-After": "1"} if status in (429, 503) else {})}
    if 300 <= status < 400:
        return web.Response(status=status, headers={**headers, "Location": fault.location})
    if html and status >= 500:
        page = f"<html><body><h1>{status} {http.HTTPStatus(status).phrase}</h1><hr>nginx</body></html>"
        return web.Response(status=status, text=page, content_type="text/html", headers=headers)
    body = {"error": "temporarily_unavailable", "error_description": "the authorization server is overloaded"}
    return web.json_response(body, status=status, headers=headers)


class OAuthServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, expires_in: int = 3600) -> None:
        self.host, self.port = host, port
        self.expires_in = expires_in  # seconds, for tokens issued from now on
        self.delay = 0.0  # seconds before answering each token request
        self.approve = True  # False: the user denies at /oauth/authorize
        self.tamper_state = False  # True: /oauth/authorize redirects with a state the client did not send
        self.held_arrived = threading.Event()  # set when a token request is held (see hold())
        self._lock = threading.Lock()
        self._clients: dict[str, Client] = {}
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, RefreshToken] = {}
        self._codes: dict[str, Code] = {}
        self._grants: list[tuple[float, str, str, str]] = []
        self._faults: collections.deque[Fault] = collections.deque()
        self._received: list[Received] = []
        self._release: threading.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._listening: socket.socket | None = None
        self._accepting: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def token_url(self) -> str:
        return self.base_url + "/oauth/token"

    @property
    def authorize_url(self) -> str:
        return self.base_url + "/oauth/authorize"

    # Set-up and observation, from any thread.

    def add_client(
        self,
        client_id: str,
        client_secret: str | None = None,
        redirect_uris: list[str] | None = None,
        loopback: bool = False,
    ) -> None:
        """Registers a client: confidential with a secret, public without; loopback allows any 127.0.0.1 port."""
        with self._lock:
            self._clients[client_id] = Client(client_secret, list(redirect_uris or []), loopback)

    def issue(self, client_id: str, scope: str = "") -> JsonObject:
        """A token response as if the user had just logged in: seeds a credential without the browser dance."""
        with self._lock:
            return self._issue(client_id, scope, family="seed-" + secrets.token_hex(8), refresh_scope=scope)

    def revoke_refresh(self, token: str) -> None:
        """Revokes the grant behind a refresh token: every refresh and access token issued under it."""
        with self._lock:
            family = self._refresh[token].family
            self._revoke(lambda issued: issued.family == family)

    def revoke_all(self) -> None:
        with self._lock:
            self._revoke(lambda issued: True)

    def _revoke(self, matches: Callable[[AccessToken | RefreshToken], bool]) -> None:
        for refresh in self._refresh.values():
            refresh.alive = refresh.alive and not matches(refresh)
        for access in self._access.values():
            access.revoked = access.revoked or matches(access)

    def is_valid_access_token(self, token: str) -> bool:
        with self._lock:
            access = self._access.get(token)
            return access is not None and not access.revoked and time.time() < access.expires_at

    def lifetime_left(self, token: str) -> float:
        """Seconds until an access token this server issued expires (0 for one it never issued)."""
        with self._lock:
            access = self._access.get(token)
            return 0.0 if access is None else max(0.0, access.expires_at - time.time())

    def issued_secrets(self) -> set[str]:
        """Every access token, refresh token, code and client secret so far: none may ever appear in a log."""
        with self._lock:
            secrets_ = {client.secret for client in self._clients.values() if client.secret}
            return secrets_ | set(self._access) | set(self._refresh) | set(self._codes)

    @property
    def grants(self) -> list[tuple[float, str, str, str]]:
        """(time.time(), grant_type, client_id, outcome) per token request; outcome "ok", an error or "fault 503"."""
        with self._lock:
            return list(self._grants)

    @property
    def received(self) -> list[Received]:
        """Every request that reached the server, in order, before anything was decided about it."""
        with self._lock:
            return list(self._received)

    def _successes(self, grant_type: str) -> int:
        return sum(1 for _, kind, _, outcome in self.grants if kind == grant_type and outcome == "ok")

    @property
    def refresh_count(self) -> int:
        return self._successes("refresh_token")

    @property
    def client_credentials_count(self) -> int:
        return self._successes("client_credentials")

    @property
    def code_count(self) -> int:
        return self._successes("authorization_code")

    # Faults, from any thread.

    def fail_next(self, count: int = 1, status: int = 503, html: bool = False) -> None:
        """The next count token requests answer status (an HTML page for a 5xx with html) without being decided."""
        with self._lock:
            self._faults.extend([Fault(status, html)] * count)

    def redirect_next(self, location: str, count: int = 1, status: int = 307) -> None:
        """The next count token requests answer a redirect (3xx status) to location, without being decided."""
        with self._lock:
            self._faults.extend([Fault(status, location=location)] * count)

    def hold(self) -> threading.Event:
        """Token requests are decided as they arrive but answered only once the returned event is set."""
        with self._lock:
            self.held_arrived.clear()
            self._release = threading.Event()
            return self._release

    def go_down(self) -> None:
        """Closes the listening socket and every connection: connecting is refused until come_up()."""
        self._on_loop(self._close_listener)

    def come_up(self) -> None:
        """Listens again on the same port."""
        self._on_loop(self._listen)

    def _on_loop(self, function: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None:
            raise RuntimeError("the OAuth server is not started")
        with contextlib.suppress(RuntimeError):
            if asyncio.get_running_loop() is loop:
                return function()

        async def call() -> None:
            function()

        asyncio.run_coroutine_threadsafe(call(), loop).result(10)

    def _listen(self) -> None:
        # Accepting by hand, not loop.create_server(), makes going down and up synchronous: no task to wait for.
        if self._listening is None and self._loop is not None:
            self._listening = socket.create_server((self.host, self.port))  # SO_REUSEADDR: the same port at once
            self._listening.setblocking(False)
            self.port = self._listening.getsockname()[1]
            self._loop.add_reader(self._listening, self._accept)

    def _accept(self) -> None:
        loop, server = self._loop, self._runner.server if self._runner is not None else None
        if self._listening is None or loop is None or server is None:
            return
        with contextlib.suppress(BlockingIOError, InterruptedError):
            connection, _ = self._listening.accept()
            connection.setblocking(False)
            task = loop.create_task(self._connect(loop, server, connection))
            self._accepting.add(task)
            task.add_done_callback(self._accepting.discard)

    @staticmethod
    async def _connect(loop: asyncio.AbstractEventLoop, server: web.Server, connection: socket.socket) -> None:
        await loop.connect_accepted_socket(server, connection)

    def _close_listener(self) -> None:
        listening, self._listening = self._listening, None
        if listening is not None and self._loop is not None:
            self._loop.remove_reader(listening)
            listening.close()
            server = self._runner.server if self._runner is not None else None
            for connection in server.connections if server is not None else ():
                connection.force_close()

    # Serving.

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        app = web.Application(middlewares=[self._record])
        app.router.add_post("/oauth/token", self._token)
        app.router.add_get("/oauth/authorize", self._authorize)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        self._listen()

    async def stop(self) -> None:
        with self._lock:
            if self._release is not None:
                self._release.set()
        if self._runner is not None:
            self._close_listener()
            await self._runner.cleanup()

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()  # cached: the handler reads the same bytes
        with self._lock:
            self._received.append(Received(request.method, request.path_qs, body))
        return await handler(request)

    async def _token(self, request: web.Request) -> web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            form: Form | None = None
            grant_type, client_id = "", ""
        else:
            form = MultiDict((name, value) for name, value in (await request.post()).items() if isinstance(value, str))
            grant_type, client_id = form.get("grant_type", ""), form.get("client_id", "")
        await asyncio.sleep(self.delay)
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
        try:
            if fault is not None:
                outcome, response = f"fault {fault.status}", fault_response(fault)
            else:
                if form is None:
                    raise OAuthError("invalid_request", "send the parameters as application/x-www-form-urlencoded")
                client_id, secret, basic = presented_credentials(request.headers.get("Authorization", ""), form)
                with self._lock:
                    answer = self._grant(form, client_id, secret, basic)
                outcome, response = "ok", web.json_response(answer, headers=NO_STORE)
        except OAuthError as error:
            outcome, response = error.code, error_response(error)
        with self._lock:
            self._grants.append((time.time(), grant_type, client_id, outcome))
            release = self._release
        if release is not None and not release.is_set():
            self.held_arrived.set()
            while not release.is_set():
                await asyncio.sleep(0.01)
        return response

    # The grants; called with the lock held.

    def _grant(self, form: Form, client_id: str, secret: str | None, basic: bool) -> JsonObject:
        if any(len(form.getall(name)) > 1 for name in form):
            raise OAuthError("invalid_request", "a parameter is repeated")
        client = self._clients.get(client_id)
        if client is None or (client.secret is not None and secret != client.secret):
            raise OAuthError("invalid_client", "client authentication failed", 401, basic)
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is required")
        grants = {
            "refresh_token": self._refresh_grant,
            "client_credentials": self._client_credentials_grant,
            "authorization_code": self._code_grant,
        }
        if grant_type not in grants:
            raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
        return grants[grant_type](form, client_id, client)

    def _refresh_grant(self, form: Form, client_id: str, client: Client) -> JsonObject:
        presented = form.get("refresh_token")
        if not presented:
            raise OAuthError("invalid_request", "refresh_token is required")
        token = self._refresh.get(presented)
        if token is None or not token.alive or token.client_id != client_id:
            raise OAuthError("invalid_grant", "the refresh token is invalid, expired or revoked")
        scope = narrowed(form, token.scope)
        # The token this one replaced dies now that its successor is in use; a successor never used is superseded.
        for replaced in (token.parent, token.child):
            if replaced is not None:
                self._refresh[replaced].alive = False
        answer = self._issue(client_id, scope, token.family, token.scope, parent=presented)
        token.child = answer["refresh_token"]
        return answer

    def _client_credentials_grant(self, form: Form, client_id: str, client: Client) -> JsonObject:
        if client.secret is None:
            raise OAuthError("unauthorized_client", "a public client cannot use the client_credentials grant")
        return self._issue(client_id, " ".join(form.get("scope", "").split()))

    def _code_grant(self, form: Form, client_id: str, client: Client) -> JsonObject:
        presented, verifier = form.get("code"), form.get("code_verifier", "")
        if not presented:
            raise OAuthError("invalid_request", "code is required")
        if not VERIFIER.fullmatch(verifier):
            raise OAuthError("invalid_request", "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
        code = self._codes.get(presented)
        if code is None or code.used or code.client_id != client_id or time.time() > code.expires_at:
            raise OAuthError("invalid_grant", "the authorization code is invalid, expired or already used")
        if form.get("redirect_uri") != code.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
        if s256(verifier) != code.challenge:
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
        code.used = True
        return self._issue(client_id, code.scope, family=presented, refresh_scope=code.scope)

    def _issue(
        self, client_id: str, scope: str, family: str | None = None, refresh_scope: str = "", parent: str | None = None
    ) -> JsonObject:
        """A token response (RFC 6749 §5.1); with a family (an authorization grant), a refresh token too."""
        access = "at-" + secrets.token_hex(16)
        self._access[access] = AccessToken(client_id, time.time() + self.expires_in, family)
        answer = {"access_token": access, "token_type": "Bearer", "expires_in": self.expires_in}
        if family is not None:
            answer["refresh_token"] = refresh = "rt-" + secrets.token_hex(16)
            self._refresh[refresh] = RefreshToken(client_id, refresh_scope, family, parent)
        answer["scope"] = scope
        return answer

    # The authorization endpoint (RFC 6749 §4.1.1-4.1.2, RFC 7636 §4.3).

    async def _authorize(self, request: web.Request) -> web.Response:
        query = request.query
        with self._lock:
            client = self._clients.get(query.get("client_id", ""))
        redirect_uri = query.get("redirect_uri", "")
        if client is None:
            return web.Response(status=400, text="invalid_request: unknown client_id; register the application first")
        if not client.allows(redirect_uri):
            # Never redirect to an unverified URI (RFC 6749 §4.1.2.1): the user sees the error instead.
            return web.Response(status=400, text="invalid_request: redirect_uri is not registered for this client")
        state = query.get("state")
        if self.tamper_state:
            state = (state or "") + "-tampered"
        error = self._authorization_error(query)
        if error is not None:
            return self._redirect(redirect_uri, error=error[0], error_description=error[1], state=state)
        code = "code-" + secrets.token_hex(16)
        with self._lock:
            self._codes[code] = Code(
                query["client_id"], redirect_uri, query["code_challenge"], " ".join(query.get("scope", "").split())
            )
        return self._redirect(redirect_uri, code=code, state=state)

    def _authorization_error(self, query: Form) -> tuple[str, str] | None:
        if query.get("response_type") != "code":
            return "unsupported_response_type", "response_type must be code"
        if not CHALLENGE.fullmatch(query.get("code_challenge", "")):
            return "invalid_request", "code_challenge is required: base64url(sha256(code_verifier)), no padding"
        if query.get("code_challenge_method") != "S256":
            return "invalid_request", "code_challenge_method must be S256"
        if not self.approve:
            return "access_denied", "the user denied the request"
        return None

    @staticmethod
    def _redirect(redirect_uri: str, **parameters: str | None) -> web.Response:
        location = URL(redirect_uri).update_query({k: v for k, v in parameters.items() if v is not None})
        return web.Response(status=302, headers={"Location": str(location), **NO_STORE})


def ThreadedOAuthServer(**options: Any) -> Threaded[OAuthServer]:  # noqa: N802 - reads like the class it was
    """`with ThreadedOAuthServer() as server:` an OAuthServer on its own event loop in a background thread."""
    return Threaded(OAuthServer(**options), name="oauth-server")
