"""`dario vault migrate --to postgres`: moves vault.json into the vault in PostgreSQL ([cluster] postgres, issue 15
item 3), its secrets sealed under DARIO_VAULT_KEY_FILE / DARIO_VAULT_KEY. Never overwrites what PostgreSQL has,
so running it again changes nothing; prints names only, never a secret. vault.json is left in place."""

from __future__ import annotations

import argparse

from dario.cli.client import CliError
from dario.config import Config
from dario.config.cluster import shown_url

OUTCOMES = {"moved": "moved", "present": "already there (the same)", "kept": "kept PostgreSQL's (it differs)"}


def add_arguments(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    vault = commands.add_parser("vault", help="the vault of credentials (several hosts: PostgreSQL)")
    actions = vault.add_subparsers(dest="vault_command", required=True)
    migrate = actions.add_parser("migrate", help="move vault.json into the vault in PostgreSQL ([cluster] postgres)")
    migrate.add_argument("--to", choices=["postgres"], required=True, help="where to (only postgres)")
    migrate.set_defaults(with_config=migrate_vault)


def migrate_vault(config: Config, arguments: argparse.Namespace) -> int:
    url = config.cluster.postgres
    if not url:
        raise CliError("no PostgreSQL configured: set [cluster] postgres in config.toml or DARIO_CLUSTER_POSTGRES")
    try:  # the postgres extra
        from credential_service.sealing import load_sealer
        from credential_service.vault import Vault, VaultError
        from credential_service.vault_file import read_vault
        from credential_service.vault_postgres import PostgresStorage
    except ImportError:
        raise CliError("the vault in PostgreSQL needs the postgres extra: pip install 'dario[postgres]'") from None
    try:
        backends, _ = read_vault(config.paths.vault)
        if not backends:
            print(f"{config.paths.vault} holds no backend: nothing to move")
            return 0
        storage = PostgresStorage(url, load_sealer(config.environment.variables))
        try:
            report = Vault(storage).merge(backends)
        finally:
            storage.close()
    except VaultError as error:
        raise CliError(str(error)) from None
    for backend, credential, outcome in report:
        print(f"{backend}/{credential}: {OUTCOMES[outcome]}" if credential else
              f"backend {backend}: {OUTCOMES[outcome]}")
    moved = sum(1 for _, credential, outcome in report if credential and outcome == "moved")
    print(f"{moved} credential(s) moved to {shown_url(url)}; {config.paths.vault} is unchanged: remove it once "
          "every host runs on PostgreSQL")
    return 0
