"""The picture of the configured backends shared by the frontend and the CLI: an immutable snapshot, and the
lease of a credential (dario.conversions builds both from credential_service's messages)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from dario.presets import speaks

REFRESHABLE = ("oauth", "client_credentials")  # the credential kinds whose tokens credential_service renews
# A path segment naming an API version: v1, v4, v1beta, v2alpha1 (Gemini's /v1beta/openai, z.ai's /api/paas/v4).
_VERSION_SEGMENT = re.compile(r"^v[0-9]+(?:(?:alpha|beta)[0-9]*)?$")


def api_root(kind: str, base_url: str) -> str:
    """The URL API paths ("/messages", "/chat/completions", "/models") are appended to.

    Anthropic kind: the SDK form of a base URL has no /v1 (ANTHROPIC_BASE_URL as Anthropic, DeepSeek, Moonshot,
    z.ai and MiniMax document it: https://api.deepseek.com/anthropic) and every Anthropic SDK and Claude Code add
    /v1 to it; dario does the same, and keeps a base URL that already ends in /v1. OpenAI kinds: used as given, as
    the OpenAI SDKs do, since providers document base URLs that already carry their version wherever it is
    (…/openai/v1, …/v1beta/openai, …/v1/openai) or that have none at all (https://api.perplexity.ai)."""
    base = base_url.rstrip("/")
    if kind == "anthropic" and not base.endswith("/v1"):
        return base + "/v1"
    return base


def has_version(base_url: str) -> bool:
    """Whether the URL's path names an API version anywhere (…/v1, …/v1beta/openai, …/api/paas/v4)."""
    return any(_VERSION_SEGMENT.match(segment) for segment in urlsplit(base_url).path.split("/"))


def base_url_candidates(kind: str, base_url: str) -> list[str]:
    """The API roots worth probing for a base URL a user typed, the one as given first: an OpenAI-compatible URL
    with no version anywhere is tried with /v1 too (Ollama's http://127.0.0.1:11434 serves /v1/…), since a
    server that really has no version prefix (Perplexity) answers at the first."""
    root = api_root(kind, base_url)
    if speaks(kind, "openai") and not has_version(root):
        return [root, root + "/v1"]
    return [root]


@dataclass(frozen=True)
class Backend:
    name: str
    kind: str
    base_url: str
    credentials: tuple[str, ...]
    revisions: tuple[int, ...]
    states: tuple[str, ...] = ()  # per credential: ok, failing, pending or needs-login

    def revision_of(self, credential: str) -> int:
        """The revision the catalog announced for one of its credentials (0 when it has no such credential)."""
        for name, revision in zip(self.credentials, self.revisions):
            if name == credential:
                return revision
        return 0

    def usable(self) -> tuple[str, ...]:
        """Credentials that can serve now: not waiting for a first token, not refused by their token endpoint."""
        if not self.states:
            return self.credentials
        return tuple(name for name, state in zip(self.credentials, self.states) if state in ("ok", "failing", ""))

    def endpoint(self, path: str) -> str:
        """The upstream URL for an API path such as "/chat/completions"."""
        return self.base_url.rstrip("/") + path


@dataclass(frozen=True)
class Catalog:
    backends: tuple[Backend, ...]
    generation: int

    def by_name(self, name: str) -> Backend | None:
        for backend in self.backends:
            if backend.name == name:
                return backend
        return None

    def first_of_kind(self, kind: str) -> Backend | None:
        """The first backend that speaks `kind`'s API (an openai-responses backend is an openai one too)."""
        for backend in self.backends:
            if speaks(backend.kind, kind):
                return backend
        return None


@dataclass(frozen=True)
class Lease:
    """The header to send upstream for one credential (its value a secret), until when, from which revision."""

    header_name: str
    header_value: str = field(repr=False)
    expires_at: float = 0.0
    revision: int = 0
    kind: str = "api_key"

    @property
    def refreshable(self) -> bool:
        return self.kind in REFRESHABLE
