"""The picture of the configured backends shared by the frontend and the CLI: an immutable snapshot."""

from __future__ import annotations

from dataclasses import dataclass

from dario.presets import speaks
from dario.v1 import credentials_pb2


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


def catalog_from_proto(
    message: credentials_pb2.WatchBackendsResponse | credentials_pb2.ListBackendsResponse,
) -> Catalog:
    backends = tuple(
        Backend(
            name=backend.name,
            kind=backend.kind,
            base_url=backend.base_url,
            credentials=tuple(credential.name for credential in backend.credentials),
            revisions=tuple(credential.revision for credential in backend.credentials),
            states=tuple(credential.state for credential in backend.credentials),
        )
        for backend in message.backends
    )
    return Catalog(backends=backends, generation=getattr(message, "generation", 0))
