"""The contracts' enums and the names users see (JSON answers, CLI tables, the vault file, config.toml): one
table per enum, both ways, so a name is spelled here and nowhere else on the wire's edge."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar, cast

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from dario.v1 import credentials_pb2, pool_pb2

UNKNOWN = "unknown"  # a value a newer peer sent that this one has no name for
E = TypeVar("E", bound=int)  # a generated enum type (pool_pb2.ApiFormat, …): its values are ints


class Names(Generic[E]):
    """One enum's names both ways; its 0 (UNSPECIFIED) value is the empty name."""

    def __init__(self, enum: EnumTypeWrapper, names: Mapping[E, str]) -> None:
        # 0 is every proto3 enum's UNSPECIFIED value, of the enum's own type.
        self._names: dict[int, str] = {0: "", **{int(value): name for value, name in names.items()}}
        unnamed = set(enum.values()) - set(self._names)
        if unnamed:  # a value added to the .proto needs its name here
            raise ValueError(f"{enum.DESCRIPTOR.name} has no name for {sorted(enum.Name(v) for v in unnamed)}")
        self._values: dict[str, E] = {name: cast(E, value) for value, name in self._names.items()}

    def name(self, value: int) -> str:
        return self._names.get(value, UNKNOWN)

    def value(self, name: str) -> E:
        """The enum value of a name users see; ValueError for a name the contract has no value for."""
        try:
            return self._values[name]
        except KeyError:
            raise ValueError(f"{name!r} is not one of {', '.join(n for n in self._values if n)}") from None

    def names(self) -> tuple[str, ...]:
        """Every name, in the enum's order (the empty one left out)."""
        return tuple(name for name in self._names.values() if name)


BACKEND_KINDS = Names(credentials_pb2.BackendKind, {
    credentials_pb2.BACKEND_KIND_OPENAI: "openai",
    credentials_pb2.BACKEND_KIND_ANTHROPIC: "anthropic",
    credentials_pb2.BACKEND_KIND_OPENAI_RESPONSES: "openai-responses",
})
CREDENTIAL_KINDS = Names(credentials_pb2.CredentialKind, {
    credentials_pb2.CREDENTIAL_KIND_API_KEY: "api_key",
    credentials_pb2.CREDENTIAL_KIND_OAUTH: "oauth",
    credentials_pb2.CREDENTIAL_KIND_CLIENT_CREDENTIALS: "client_credentials",
})
CREDENTIAL_STATES = Names(credentials_pb2.CredentialState, {
    credentials_pb2.CREDENTIAL_STATE_OK: "ok",
    credentials_pb2.CREDENTIAL_STATE_FAILING: "failing",
    credentials_pb2.CREDENTIAL_STATE_PENDING: "pending",
    credentials_pb2.CREDENTIAL_STATE_NEEDS_LOGIN: "needs-login",
    credentials_pb2.CREDENTIAL_STATE_MISSING_KEY: "missing-key",
})
PROBE_VERDICTS = Names(credentials_pb2.ProbeVerdict, {
    credentials_pb2.PROBE_VERDICT_OK: "ok",
    credentials_pb2.PROBE_VERDICT_KEY_REFUSED: "key-refused",
    credentials_pb2.PROBE_VERDICT_NOT_FOUND: "not-found",
    credentials_pb2.PROBE_VERDICT_ERROR: "error",
    credentials_pb2.PROBE_VERDICT_REDIRECT: "redirect",
    credentials_pb2.PROBE_VERDICT_UNREACHABLE: "unreachable",
})
API_FORMATS = Names(pool_pb2.ApiFormat, {
    pool_pb2.API_FORMAT_OPENAI: "openai",
    pool_pb2.API_FORMAT_ANTHROPIC: "anthropic",
    pool_pb2.API_FORMAT_RESPONSES: "responses",
    pool_pb2.API_FORMAT_EMBEDDINGS: "embeddings",
})
ACCOUNT_STATUSES = Names(pool_pb2.AccountStatus, {
    pool_pb2.ACCOUNT_STATUS_OK: "ok",
    pool_pb2.ACCOUNT_STATUS_COOLDOWN: "cooldown",
    pool_pb2.ACCOUNT_STATUS_QUARANTINED: "quarantined",
    pool_pb2.ACCOUNT_STATUS_EXHAUSTED: "exhausted",
})
