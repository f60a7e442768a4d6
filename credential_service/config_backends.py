"""Backends declared in config.toml whose keys come from credential_service's environment (`key_env`).

    [backends.openai]
    preset = "openai"                 # or kind = "openai" and base_url = "https://…"
    key_env = "OPENAI_API_KEY"        # the key of its "default" credential

    [[backends.openai.accounts]]      # more credentials make a pool
    name = "team-b"
    key_env = "OPENAI_API_KEY_B"

As LiteLLM's `os.environ/KEY` and claude-code-router's `$KEY`: the file names the variable, never the key, and
the key stays in memory only (the vault is not written). The variables are those of the environment `dario up`
(or supervisord) was started in; config.toml is re-read when it changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from credential_service.vault import Credential, StoredBackend
from dario.catalog import api_root
from dario.names import check_base_url, check_name
from dario.presets import KINDS, PRESETS, preset_base_url
from dario.settings import ConfigError

SOURCE = "config.toml"
MISSING_KEY = "missing-key"  # the variable is not set (or empty): the credential cannot serve
BACKEND_KEYS = {"preset", "kind", "base_url", "resource", "key_env", "account", "accounts"}
ACCOUNT_KEYS = {"name", "key_env"}
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ConfigBackends:
    """The backends of config.toml with their keys resolved; key_envs and missing by (backend, credential)."""

    backends: tuple[StoredBackend, ...] = ()
    key_envs: Mapping[tuple[str, str], str] = field(default_factory=dict)
    missing: frozenset[tuple[str, str]] = frozenset()

    def find(self, name: str) -> StoredBackend | None:
        return next((backend for backend in self.backends if backend.name == name), None)


def _variable(value: object, where: str) -> str:
    if not isinstance(value, str) or not _VARIABLE.match(value):
        raise ConfigError(f"config.toml: {where} must name an environment variable, like \"OPENAI_API_KEY\" "
                          "(the key itself never goes in the file)")
    return value


def _location(name: str, table: Mapping[str, object]) -> tuple[str, str]:
    where = f"backends.{name}"
    preset_name = table.get("preset")
    if preset_name is not None:
        preset = PRESETS.get(preset_name) if isinstance(preset_name, str) else None
        if preset is None:
            raise ConfigError(f"config.toml: {where}.preset {preset_name!r} is not one of {', '.join(PRESETS)}")
        kind = table.get("kind", preset.kind)
        try:
            base_url = table.get("base_url") or preset_base_url(preset_name, preset, str(table.get("resource", "")))
        except ValueError as error:
            raise ConfigError(f"config.toml: {where}: {str(error).replace('--resource', 'resource =')}") from None
    else:
        kind, base_url = table.get("kind"), table.get("base_url")
        if not kind or not base_url:
            raise ConfigError(f"config.toml: {where} needs preset = \"…\", or kind = \"…\" and base_url = \"…\"")
    if kind not in KINDS:
        raise ConfigError(f"config.toml: {where}.kind {kind!r} is not one of {', '.join(KINDS)}")
    problem = check_base_url(base_url) if isinstance(base_url, str) else "base_url must be a string"
    if problem:
        raise ConfigError(f"config.toml: {where}: {problem}")
    return str(kind), api_root(str(kind), base_url)


def parse(config: Mapping[str, object], environ: Mapping[str, str],
          revisions: Mapping[tuple[str, str, str], int] | None = None) -> ConfigBackends:
    """The [backends] tables with each key looked up in environ; ConfigError names what is wrong.

    revisions maps (backend, credential, key) to the revision a previous parse gave it, so an unchanged key keeps
    its revision and a changed one gets a new one (the frontend drops leases of an old revision)."""
    tables = config.get("backends", {})
    if not isinstance(tables, Mapping):
        raise ConfigError("config.toml: backends must be tables, like [backends.openai]")
    revisions = revisions or {}
    backends, key_envs, missing = [], {}, set()
    next_revision = max(revisions.values(), default=0) + 1
    for name, table in tables.items():
        where = f"backends.{name}"
        if check_name(name, "backend name") or not isinstance(table, Mapping):
            raise ConfigError(f"config.toml: [{where}] must be a table named with 1-64 letters, digits, '.', '_' "
                              "or '-'")
        unknown = set(table) - BACKEND_KEYS
        if unknown:
            raise ConfigError(f"config.toml: {where} has unknown key(s) {', '.join(sorted(unknown))}; allowed: "
                              f"{', '.join(sorted(BACKEND_KEYS))}")
        kind, base_url = _location(name, table)
        entries = [(table.get("account", "default"), table.get("key_env"), f"{where}.key_env")]
        accounts = table.get("accounts", [])
        if not isinstance(accounts, list) or not all(isinstance(item, Mapping) for item in accounts):
            raise ConfigError(f"config.toml: {where}.accounts must be [[{where}.accounts]] tables")
        for index, account in enumerate(accounts):
            if set(account) - ACCOUNT_KEYS or "name" not in account or "key_env" not in account:
                raise ConfigError(f"config.toml: {where}.accounts[{index}] needs name = \"…\" and key_env = \"…\" "
                                  "(nothing else)")
            entries.append((account["name"], account["key_env"], f"{where}.accounts[{index}].key_env"))
        preset = PRESETS.get(str(table.get("preset", "")))
        if entries[0][1] is None and (preset is None or not preset.needs_key) and not accounts:
            entries = [(entries[0][0], "", "")]  # a keyless local server: one credential without a key
        credentials = []
        for credential_name, variable, key_where in entries:
            if not isinstance(credential_name, str) or check_name(credential_name, "credential name"):
                raise ConfigError(f"config.toml: {where} has an account name that is not valid: {credential_name!r}")
            if any(existing.name == credential_name for existing in credentials):
                raise ConfigError(f"config.toml: {where} names account {credential_name!r} twice")
            secret = ""
            if key_where:
                variable = _variable(variable, key_where)
                secret = environ.get(variable, "").strip()
                key_envs[(name, credential_name)] = variable
                if not secret:
                    missing.add((name, credential_name))
            revision = revisions.get((name, credential_name, secret))
            if revision is None:
                revision, next_revision = next_revision, next_revision + 1
            credentials.append(Credential(name=credential_name, secret=secret, revision=revision, created_at=0.0))
        backends.append(StoredBackend(name=name, kind=kind, base_url=base_url, created_at=0.0,
                                      credentials=tuple(credentials)))
    return ConfigBackends(tuple(backends), key_envs, frozenset(missing))


def revisions_of(parsed: ConfigBackends) -> dict[tuple[str, str, str], int]:
    """What parse needs to keep unchanged keys' revisions across a reload."""
    return {(backend.name, credential.name, credential.secret): credential.revision
            for backend in parsed.backends for credential in backend.credentials}
