"""Probing a backend's base URL from credential_service, where its keys are: the CLI sees only the verdict.

A probe is `GET {root}/models` with the credential's header, which every OpenAI-compatible server and Anthropic's
API answer without cost. An Anthropic-compatible endpoint that lists no models gets an empty Messages request
instead (`POST {root}/messages` with no messages): the API refuses it with a 400 before any model runs, so it
costs nothing and still tells a right path from a wrong one. Redirects are never followed (upstream traffic goes
only to the configured base URL: architecture.md, Security); the key is sent nowhere else.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from credential_service.refresher import origin_of
from dario.catalog import base_url_candidates
from dario.redaction import redact

if TYPE_CHECKING:  # imported where a probe runs: a service that never probes keeps aiohttp's ~9 MB out of its RSS
    import aiohttp

PROBE_TIMEOUT_SECONDS = 8.0
BODY_LIMIT = 1 << 20
MESSAGE_LIMIT = 200
ANTHROPIC_VERSION = "2023-06-01"
EMPTY_MESSAGES = {"model": "dario-probe", "max_tokens": 1, "messages": []}


@dataclass(frozen=True)
class Header:
    name: str
    value: str = field(repr=False)


@dataclass
class Probe:
    """What one probe found: never a secret, never a response body beyond its error message."""

    url: str  # the URL called
    credential: str = ""  # whose key was sent; empty when none was
    status: int = 0  # of the answer; 0 when nothing answered
    verdict: str = ""  # ok, key-refused, not-found, error, redirect or unreachable
    message: str = ""  # what it means: the upstream's own error message when it gave one (sanitized, shortened)
    base_url: str = ""  # the API root probed
    models: int = -1  # listed by a 2xx answer; -1 when it listed none in a known shape


def _verdict(status: int) -> str:
    if 200 <= status < 300:
        return "ok"
    if status in (401, 403):
        return "key-refused"
    if status == 404:
        return "not-found"
    if 300 <= status < 400:
        return "redirect"
    return "error"


def _error_message(document: object) -> str:
    """The upstream's own error text from the OpenAI or Anthropic error shapes (or a bare message/detail)."""
    if not isinstance(document, dict):
        return ""
    error = document.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    if isinstance(message, str):
        return message
    for value in (error, document.get("message"), document.get("detail")):
        if isinstance(value, str):
            return value
    return ""


async def _call(session: aiohttp.ClientSession, method: str, url: str, kind: str, header: Header | None,
                secrets: tuple[str, ...], credential: str) -> Probe:
    import aiohttp

    headers = {"accept": "application/json"}
    if kind == "anthropic":
        headers["anthropic-version"] = ANTHROPIC_VERSION
    if header is not None and header.name:
        headers[header.name] = header.value
    body = EMPTY_MESSAGES if method == "POST" else None
    result = Probe(url=url, credential=credential)
    try:
        async with session.request(method, url, headers=headers, json=body, allow_redirects=False,
                                   timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT_SECONDS)) as answer:
            result.status = answer.status
            location = answer.headers.get("Location")
            text = (await answer.content.read(BODY_LIMIT)).decode("utf-8", "replace")
    except TimeoutError:
        result.verdict, result.message = "unreachable", f"no answer within {PROBE_TIMEOUT_SECONDS:.0f}s"
        return result
    except aiohttp.ClientError as error:
        result.verdict = "unreachable"
        result.message = redact(f"could not connect ({type(error).__name__}: {error})", secrets)[:MESSAGE_LIMIT]
        return result
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    result.verdict = _verdict(result.status)
    if result.verdict == "redirect":
        target = origin_of(url, location) if location else "nowhere (no Location)"
        result.message = f"a redirect to {target}, not followed: check the base URL"
    elif result.verdict == "ok" and isinstance(document, dict) and isinstance(document.get("data"), list):
        result.models = len(document["data"])
    else:
        first_line = text.strip().splitlines()[0] if text.strip() else ""
        message = _error_message(document) or ("" if document is not None else first_line)
        result.message = redact(message, secrets)[:MESSAGE_LIMIT]
    anthropic_error = isinstance(document, dict) and document.get("type") == "error"
    if method == "POST" and (result.status == 400 or result.status == 404 and anthropic_error):
        # The Messages API refused the empty request (or its made-up model) in its own error shape: the path is
        # right, and the key was accepted.
        result.verdict, result.message = "ok", "the Messages API answered (it lists no models at /models)"
    return result


async def probe_root(session: aiohttp.ClientSession, root: str, kind: str, header: Header | None,
                     secrets: tuple[str, ...], credential: str = "") -> Probe:
    """One API root: /models, then for an Anthropic kind that lists none, the empty Messages request."""
    result = await _call(session, "GET", root + "/models", kind, header, secrets, credential)
    if kind == "anthropic" and result.verdict == "not-found":
        messages = await _call(session, "POST", root + "/messages", kind, header, secrets, credential)
        if messages.verdict != "not-found":
            result = messages
    result.base_url = root
    return result


async def probe_new(session: aiohttp.ClientSession, kind: str, base_url: str, header: Header | None,
                    secrets: tuple[str, ...], credential: str) -> Probe:
    """Probes a base URL a user typed: as given, then (OpenAI kinds without a version) with /v1; the first that
    is not a 404 names the root to store (the one as given when all of them are)."""
    candidates = base_url_candidates(kind, base_url)
    first = await probe_root(session, candidates[0], kind, header, secrets, credential)
    if first.verdict != "not-found" or len(candidates) == 1:
        return first
    second = await probe_root(session, candidates[1], kind, header, secrets, credential)
    if second.verdict in ("not-found", "unreachable"):
        return first
    second.message = (f"{first.url} answered 404, {second.url} answered {second.status}: stored with /v1"
                      + (f"; {second.message}" if second.message else ""))
    return second


async def probe_all(session: aiohttp.ClientSession, root: str, kind: str,
                    credentials: list[tuple[str, Header | None, tuple[str, ...]]]) -> list[Probe]:
    """One probe per credential (name, header, its secrets), at once."""
    return list(await asyncio.gather(*(probe_root(session, root, kind, header, secrets, name)
                                       for name, header, secrets in credentials)))
