"""OAuth tokens of `oauth` and `client_credentials` credentials, fetched ahead of expiry and stored first.

One scheduler task wakes when a token is due (refresh_ahead before expiry, at most half its lifetime) and
starts one flight per credential; a forced refresh (an upstream 401, `dario refresh`) joins the flight in
progress instead of starting another, so many callers at once cause one token request. A flight stores the
new access token (and a rotated refresh token) in the vault atomically, and only then announces the change:
no one is handed a token the vault could lose. A refused grant marks the credential needs-login; an
unreachable or failing endpoint is retried with exponential backoff and jitter while the old token serves.
Token endpoints' redirects are never followed: they would carry the grant and the client secret to another host.
With the vault in PostgreSQL, a flight first takes the credential's refresh lock (shared by every host) and, when
another host rotated the grant meanwhile, uses that host's token instead of refreshing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from credential_service.vault import (
    FAILING,
    NEEDS_LOGIN,
    OK,
    Credential,
    NotFound,
    RefreshLock,
    Stale,
    Vault,
    token_url_allowed,
)
from dario.config import Config
from dario.json_types import JsonObject
from dario.redaction import redact

if TYPE_CHECKING:  # imported at the first token request or probe (Refresher.session): ~9 MB of RSS otherwise
    import aiohttp

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (backend, credential)
# Token endpoint errors that no retry can fix (RFC 6749 §5.2): the user must log in or fix the client.
PERMANENT = frozenset({"invalid_grant", "invalid_client", "unauthorized_client", "unsupported_grant_type",
                       "invalid_scope"})
DEFAULT_EXPIRES_IN = 3600.0  # when a token answer leaves expires_in out (RFC 6749 makes it optional)
SCHEDULER_IDLE_SECONDS = 30.0
ERROR_TEXT_LIMIT = 200
REFRESH_LOCK_THREADS = 4  # credentials waiting at once for another host's refresh; more wait their turn
ORIGIN_TEXT_LIMIT = 100  # an origin quoted in a message: a hostile Location could be any length


class TokenError(Exception):
    """A token request failed; the message is sanitized (never a token, never the raw body)."""

    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class TokenAnswer:
    access_token: str
    refresh_token: str
    expires_in: float
    scope: str


@dataclass(frozen=True)
class Result:
    refreshed: bool
    error: str = ""


async def token_request(session: aiohttp.ClientSession, url: str, form: dict[str, str], timeout: float,
                        secrets: tuple[str, ...]) -> TokenAnswer:
    """POSTs one RFC 6749 token request (client credentials in the body: client_secret_post).

    Only to url itself: a redirect is an error, never followed, since following it would re-send the grant and
    the client secret to wherever the Location points (and past the https-only rule)."""
    import aiohttp

    if not token_url_allowed(url):  # checked when stored, and again here: only this URL is ever contacted
        raise TokenError("the token URL must be https:// (plain http only on loopback): nothing was sent",
                         permanent=True)
    form = {name: value for name, value in form.items() if value}
    try:
        async with session.post(url, data=form, headers={"accept": "application/json"}, allow_redirects=False,
                                timeout=aiohttp.ClientTimeout(total=timeout)) as answer:
            status = answer.status
            if 300 <= status < 400:
                raise TokenError(redact(redirect_message(url, status, answer.headers.get("Location")), secrets),
                                 permanent=False)
            text = await answer.text(errors="replace")
    except TimeoutError:
        raise TokenError(f"the token endpoint did not answer within {timeout:.0f}s", permanent=False) from None
    except aiohttp.ClientError as error:
        raise TokenError(f"could not reach the token endpoint ({type(error).__name__})", permanent=False) from None
    document = _json_object(text)
    if status == 200 and isinstance(document.get("access_token"), str) and document["access_token"]:
        return TokenAnswer(
            access_token=document["access_token"],
            refresh_token=_text(document, "refresh_token"),
            expires_in=_expires_in(document.get("expires_in")),
            scope=_text(document, "scope"),
        )
    code = _text(document, "error")
    description = _text(document, "error_description")
    if status == 200:
        message = "the token endpoint answered 200 without an access_token"
    else:
        message = f"the token endpoint answered {status}" + (f" {code}" if code else "")
        message += f": {description}" if description else ""
    message = redact(message, secrets)[:ERROR_TEXT_LIMIT]
    raise TokenError(message, permanent=code in PERMANENT and status in (400, 401))


def redirect_message(url: str, status: int, location: str | None) -> str:
    """Names the endpoint's origin and the Location's, never a path or query (either could carry a secret).

    Retryable, not needs-login: a redirect is no verdict on the grant (RFC 6749 §5.2 errors are 400/401), so the
    grant is kept, the current token serves, and /status shows the message until the token URL is fixed."""
    target = f"a redirect to {origin_of(url, location)}" if location else "a redirect without a Location"
    return (f"the token endpoint {origin_of(url)} answered {status}, {target}; token endpoint redirects are "
            "never followed (they would carry the grant elsewhere): check the token URL")


def origin_of(url: str, reference: str = "") -> str:
    """scheme://host[:port] of url (or of reference resolved against it), without user info, path or query."""
    from yarl import URL  # noqa: PLC0415 — only for a redirect's message: yarl, multidict, idna stay out of a
    # credential_service that never meets one (1.3 MB resident; aiohttp brings them at its first HTTP request)

    with contextlib.suppress(ValueError, TypeError):
        resolved = URL(url).join(URL(reference)) if reference else URL(url)
        return str(resolved.origin())[:ORIGIN_TEXT_LIMIT]
    return "an unreadable URL"


def _json_object(text: str) -> JsonObject:
    with contextlib.suppress(ValueError):
        document = json.loads(text)
        if isinstance(document, dict):
            return document
    return {}


def _text(document: JsonObject, key: str) -> str:
    """document[key] when it is a string, else ""."""
    value = document.get(key)
    return value if isinstance(value, str) else ""


def _expires_in(value: object) -> float:
    try:
        if not isinstance(value, str | int | float):
            raise TypeError(value)
        seconds = float(value)  # some servers send it as a string
    except (TypeError, ValueError):
        return DEFAULT_EXPIRES_IN
    return seconds if 0 < seconds < 10 * 365 * 86400 else DEFAULT_EXPIRES_IN


def refresh_form(credential: Credential) -> dict[str, str]:
    if credential.kind == "client_credentials":
        form = {"grant_type": "client_credentials"}
    else:
        form = {"grant_type": "refresh_token", "refresh_token": credential.refresh_token}
    return {**form, "client_id": credential.client_id, "client_secret": credential.client_secret,
            "scope": credential.scope}


class Refresher:
    """Keeps every refreshable credential's access token valid; see the module docstring."""

    def __init__(self, vault: Vault, config: Config, write_lock: asyncio.Lock,
                 announce: Callable[[], Awaitable[None]]) -> None:
        self.vault, self.config = vault, config
        self._write_lock, self._announce = write_lock, announce
        self._flights: dict[Key, asyncio.Task[Result]] = {}
        self._failures: dict[Key, tuple[int, str]] = {}  # consecutive failures, the last error
        self._retry_at: dict[Key, float] = {}
        self._wake = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        # Waiting for another host's refresh blocks a thread: its own few, never the default pool's.
        self._lock_threads = concurrent.futures.ThreadPoolExecutor(REFRESH_LOCK_THREADS, "refresh-lock")
        self.token_requests = 0  # sent by this process (tests and logs)

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            import aiohttp

            # No cookie jar: a token endpoint's cookie must not go with another credential's refresh or probe.
            self._session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def close(self) -> None:
        for flight in list(self._flights.values()):
            flight.cancel()
        if self._session is not None:
            await self._session.close()
        self._lock_threads.shutdown(wait=False, cancel_futures=True)

    def status(self, backend: str, credential: Credential) -> tuple[str, str]:
        """(state, last error) as users see it: ok, pending (no token yet), failing or needs-login."""
        failures, error = self._failures.get((backend, credential.name), (0, ""))
        if credential.state == NEEDS_LOGIN:
            return NEEDS_LOGIN, error
        if failures:
            return FAILING, error
        if credential.refreshable and not credential.secret:
            return "pending", error
        return OK, error

    def due_at(self, credential: Credential) -> float:
        if not credential.secret or credential.expires_at <= 0:
            return 0.0
        lifetime = credential.expires_at - credential.last_refresh if credential.last_refresh else float("inf")
        return credential.expires_at - min(self.config.credentials.refresh_ahead_seconds, max(lifetime, 0.0) / 2)

    def poke(self) -> None:
        """The vault changed (a credential added or replaced): look again at what is due."""
        self._wake.set()

    async def run(self, stopping: asyncio.Event) -> None:
        """The scheduler: starts a flight for every credential whose token is due, until stopping."""
        waker = asyncio.create_task(self._poke_when(stopping))
        try:
            await self._schedule(stopping)
        finally:
            waker.cancel()

    async def _poke_when(self, stopping: asyncio.Event) -> None:
        await stopping.wait()
        self.poke()

    async def _schedule(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            now, next_check = time.time(), time.time() + SCHEDULER_IDLE_SECONDS
            for backend in self.vault.backends():
                for credential in backend.credentials:
                    if not credential.refreshable or credential.state == NEEDS_LOGIN:
                        continue
                    key = (backend.name, credential.name)
                    due = max(self.due_at(credential), self._retry_at.get(key, 0.0))
                    if key in self._flights:
                        continue
                    if due <= now:
                        self._start(key)
                    else:
                        next_check = min(next_check, due)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, next_check - time.time()))

    async def refresh(self, key: Key, force: bool, stale_revision: int = 0) -> Result:
        """Refreshes one credential now when forced or due, joining a flight already under way."""
        credential = self.vault.credential(*key)
        flight = self._flights.get(key)
        if flight is None:
            if not credential.refreshable:
                return Result(False, "an API key cannot be refreshed")
            if force and stale_revision and credential.revision > stale_revision:
                return Result(False)  # already rotated since the caller's lease was cut
            if not force and self.due_at(credential) > time.time():
                return Result(False)
            flight = self._start(key)
        return await asyncio.shield(flight)

    def _start(self, key: Key) -> asyncio.Task[Result]:
        flight = asyncio.create_task(self._fly(key))
        self._flights[key] = flight

        def finished(task: asyncio.Task[Result]) -> None:
            if self._flights.get(key) is task:
                del self._flights[key]
            self._wake.set()

        flight.add_done_callback(finished)
        return flight

    async def _fly(self, key: Key) -> Result:
        try:
            credential = self.vault.credential(*key)
        except NotFound:
            return Result(False, "the credential was removed")
        # Several hosts on one vault: only the holder of the credential's refresh lock spends its refresh token.
        lock = await asyncio.get_running_loop().run_in_executor(self._lock_threads, self.vault.storage.refresh_lock,
                                                                *key)
        try:
            if lock is not None:
                if lock.current is None:
                    return Result(False, "the credential was removed")
                if self._taken_care_of(credential, lock.current):
                    await self._take_in_other_hosts_write()
                    log.info("%s/%s was refreshed by another host: its token is used", *key)
                    return Result(False)
                credential = lock.current
            return await self._fly_locked(key, credential, lock)
        finally:
            if lock is not None:
                await asyncio.to_thread(lock.release)

    @staticmethod
    def _taken_care_of(read: Credential, stored: Credential) -> bool:
        """Another host rotated the grant since this one read it, or found it refused."""
        return (stored.revision, stored.refresh_token) != (read.revision, read.refresh_token) or (
            stored.state == NEEDS_LOGIN)

    async def _take_in_other_hosts_write(self) -> None:
        async with self._write_lock:
            changed = await asyncio.to_thread(self.vault.reload)
        if changed:
            await self._announce()

    async def _store(self, lock: RefreshLock | None, write: Callable[[], Credential]) -> Credential:
        """A write of the refresher: inside the refresh lock's transaction when there is one."""
        if lock is None:
            return await asyncio.to_thread(write)
        try:
            return await asyncio.to_thread(lock.store, write)
        except BaseException:
            await asyncio.to_thread(self.vault.reload)  # memory may be ahead of a transaction that did not commit
            raise

    async def _fly_locked(self, key: Key, credential: Credential, lock: RefreshLock | None) -> Result:
        self.token_requests += 1
        try:
            answer = await token_request(self.session(), credential.token_url, refresh_form(credential),
                                         self.config.credentials.token_timeout_seconds, credential.secrets())
        except TokenError as error:
            return await self._failed(key, credential, error, lock)
        now = time.time()
        async with self._write_lock:
            try:
                # The rotated refresh token and the access token land in one atomic write, before anyone sees
                # them, and only over the very grant that was redeemed (checked against storage, not memory).
                await self._store(lock, functools.partial(
                    self.vault.update_credential, *key, expect=credential, secret=answer.access_token,
                    refresh_token=answer.refresh_token or credential.refresh_token,
                    expires_at=now + answer.expires_in, last_refresh=now, state=OK,
                ))
            except NotFound:
                return Result(False, "the credential was removed during the refresh")
            except Stale:
                return Result(False, "the credential was replaced during the refresh")
        self._failures.pop(key, None)
        self._retry_at.pop(key, None)
        log.info("refreshed %s/%s (%s); the new token expires in %.0fs", *key, credential.kind, answer.expires_in)
        await self._announce()
        return Result(True)

    async def _failed(self, key: Key, credential: Credential, error: TokenError,
                      lock: RefreshLock | None = None) -> Result:
        failures = self._failures.get(key, (0, ""))[0] + 1
        self._failures[key] = (failures, str(error))
        if error.permanent:
            self._retry_at.pop(key, None)
            async with self._write_lock:
                with contextlib.suppress(NotFound, Stale):  # a newer grant on disk was not the one refused
                    await self._store(lock, functools.partial(self.vault.update_credential, *key,
                                                              expect=credential, state=NEEDS_LOGIN))
            log.warning("refresh of %s/%s refused: %s; the credential needs a new login (`dario login %s`)",
                        *key, error, key[0])
        else:
            timings = self.config.credentials
            backoff = min(timings.refresh_retry_max_seconds, timings.refresh_retry_seconds * 2 ** (failures - 1))
            delay = backoff * random.uniform(0.5, 1.0)  # jitter: restarts and pools don't retry in lockstep
            self._retry_at[key] = time.time() + delay
            valid = credential.expires_at - time.time()
            log.warning("refresh %d of %s/%s failed: %s; retrying in %.1fs (the current token is valid for %.0fs)",
                        failures, *key, error, delay, max(valid, 0.0))
        await self._announce()
        return Result(False, str(error))


async def exchange_code(session: aiohttp.ClientSession, credential: Credential, code: str, verifier: str,
                        redirect_uri: str, timeout: float) -> TokenAnswer:
    """Redeems an authorization code with its PKCE verifier (RFC 7636 §4.5): one attempt, codes are single-use."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "client_id": credential.client_id, "client_secret": credential.client_secret, "code_verifier": verifier}
    return await token_request(session, credential.token_url, form, timeout, (code, verifier, *credential.secrets()))
