"""config.toml's [backends.NAME] tables: where each backend is and which environment variable holds each key.

    [backends.openai]
    preset = "openai"                 # or kind = "openai" and base_url = "https://…"
    key_env = "OPENAI_API_KEY"        # the key of its "default" credential

    [[backends.openai.accounts]]      # more credentials make a pool
    name = "team-b"
    key_env = "OPENAI_API_KEY_B"

    [backends.openai.compat]          # its compatibility profile's overrides (dario.config.compat_tables)
    max_output_tokens = 16384

As LiteLLM's `os.environ/KEY` and claude-code-router's `$KEY`: the file names the variable, never the key.
credential_service looks the keys up (credential_service/config_backends.py); this only checks the tables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from dario.catalog import api_root
from dario.config.errors import ConfigError
from dario.config.sections import AccountDeclaration, BackendDeclaration
from dario.names import check_base_url, check_name
from dario.presets import KINDS, PRESETS, preset_base_url

BACKEND_KEYS = frozenset({"preset", "kind", "base_url", "resource", "key_env", "account", "accounts", "compat"})
ACCOUNT_KEYS = frozenset({"name", "key_env"})
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _variable(value: object, where: str) -> str:
    if not isinstance(value, str) or not _VARIABLE.match(value):
        raise ConfigError(f"config.toml: {where} must name an environment variable, like \"OPENAI_API_KEY\" "
                          "(the key itself never goes in the file)")
    return value


def _location(name: str, table: Mapping[str, object]) -> tuple[str, str]:
    where = f"backends.{name}"
    preset_name = table.get("preset")
    if preset_name is not None:
        if not isinstance(preset_name, str) or preset_name not in PRESETS:
            raise ConfigError(f"config.toml: {where}.preset {preset_name!r} is not one of {', '.join(PRESETS)}")
        preset = PRESETS[preset_name]
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
    if problem or not isinstance(base_url, str):
        raise ConfigError(f"config.toml: {where}: {problem}")
    return str(kind), api_root(str(kind), base_url)


def _backend(name: object, table: object) -> BackendDeclaration:
    where = f"backends.{name}"
    if not isinstance(name, str) or check_name(name, "backend name") or not isinstance(table, Mapping):
        raise ConfigError(f"config.toml: [{where}] must be a table named with 1-64 letters, digits, '.', '_' or '-'")
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
    declared: list[AccountDeclaration] = []
    for account_name, variable, key_where in entries:
        if not isinstance(account_name, str) or check_name(account_name, "credential name"):
            raise ConfigError(f"config.toml: {where} has an account name that is not valid: {account_name!r}")
        if any(existing.name == account_name for existing in declared):
            raise ConfigError(f"config.toml: {where} names account {account_name!r} twice")
        declared.append(AccountDeclaration(account_name, _variable(variable, key_where) if key_where else ""))
    return BackendDeclaration(name=name, kind=kind, base_url=base_url, accounts=tuple(declared),
                              preset=str(table.get("preset", "")))


def parse_backends(document: Mapping[str, object]) -> tuple[BackendDeclaration, ...]:
    """The [backends] tables of a parsed config.toml; ConfigError names what is wrong."""
    tables = document.get("backends", {})
    if not isinstance(tables, Mapping):
        raise ConfigError("config.toml: backends must be tables, like [backends.openai]")
    return tuple(_backend(name, table) for name, table in tables.items())
