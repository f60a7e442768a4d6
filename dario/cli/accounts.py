"""`dario accounts`, `refresh`, `logout` and the credentials part of `dario status`: never a secret printed."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping

from rich.table import Table

from dario.cli.client import AdminClient, CliError
from dario.cli.keys import ReadKey
from dario.cli.output import AddOptions, Commands, add_json_option, console, print_json, styled
from dario.config import Paths
from dario.enums import ACCOUNT_STATUSES, CREDENTIAL_KINDS, CREDENTIAL_STATES
from dario.json_types import JsonObject
from dario.v1 import credentials_pb2, pool_pb2

# Credential states that still serve (the pool may rest them), states with no token to serve with, and the pool
# statuses that keep a credential out until a time.
SERVING = (credentials_pb2.CREDENTIAL_STATE_OK, credentials_pb2.CREDENTIAL_STATE_FAILING,
           credentials_pb2.CREDENTIAL_STATE_UNSPECIFIED)
NO_TOKEN = (credentials_pb2.CREDENTIAL_STATE_NEEDS_LOGIN, credentials_pb2.CREDENTIAL_STATE_PENDING,
            credentials_pb2.CREDENTIAL_STATE_MISSING_KEY)
RESTING = (pool_pb2.ACCOUNT_STATUS_QUARANTINED, pool_pb2.ACCOUNT_STATUS_COOLDOWN, pool_pb2.ACCOUNT_STATUS_EXHAUSTED)


def secret_from(arguments: argparse.Namespace, variables: Mapping[str, str], option: str, what: str,
                required: bool = True) -> str:
    """A secret from `--OPTION-stdin` or `--OPTION-env VAR` (looked up in variables, the environment): never from
    the command line itself."""
    if getattr(arguments, f"{option}_stdin", False):
        value = sys.stdin.read().strip()
        if not value:
            raise CliError(f"no {what} on standard input")
        return value
    variable = getattr(arguments, f"{option}_env", None)
    if variable:
        value = variables.get(variable, "").strip()
        if not value:
            raise CliError(f"environment variable {variable} is not set or empty")
        return value
    if required:
        flag = option.replace("_", "-")
        raise CliError(f"give the {what} with --{flag}-stdin or --{flag}-env VAR")
    return ""


def accounts_add(paths: Paths, arguments: argparse.Namespace, read_key: ReadKey, variables: Mapping[str, str]) -> int:
    stdin_users = [name for name in ("key_stdin", "refresh_token_stdin", "client_secret_stdin")
                   if getattr(arguments, name, False)]
    if len(stdin_users) > 1:
        raise CliError("only one secret can come from standard input; pass the others with --…-env VAR")
    request = credentials_pb2.AddCredentialRequest(backend=arguments.backend, name=arguments.name,
                                                   replace=arguments.replace)
    if arguments.oauth or arguments.client_credentials:
        if not arguments.token_url or not arguments.client_id:
            raise CliError("--token-url and --client-id are needed for --oauth and --client-credentials")
        request.kind = (credentials_pb2.CREDENTIAL_KIND_OAUTH if arguments.oauth
                        else credentials_pb2.CREDENTIAL_KIND_CLIENT_CREDENTIALS)
        request.oauth.token_url, request.oauth.client_id = arguments.token_url, arguments.client_id
        request.oauth.scope = arguments.scope
        request.oauth.client_secret = secret_from(arguments, variables, "client_secret", "client secret",
                                                  required=arguments.client_credentials)
        if arguments.oauth:
            request.oauth.refresh_token = secret_from(arguments, variables, "refresh_token", "refresh token")
    else:
        request.kind, request.api_key = credentials_pb2.CREDENTIAL_KIND_API_KEY, read_key(arguments)
    with AdminClient(paths) as client:
        # Asked first so the message can say "replaced": the answer shows only the result.
        replacing = arguments.replace and any(
            backend.name == arguments.backend and any(c.name == arguments.name for c in backend.credentials)
            for backend in list_backends(client))
        answer = client.call("credential_service", client.credentials().AddCredential, request)
    stored = next(c for c in answer.backend.credentials if c.name == arguments.name)
    state = CREDENTIAL_STATES.name(stored.state) or "ok"
    console.print(f"account {stored.name} ({CREDENTIAL_KINDS.name(stored.kind)}) "
                  f"{'replaced in' if replacing else 'added to'} backend {answer.backend.name}, which has "
                  f"{len(answer.backend.credentials)} account(s); state: {state}")
    if stored.last_error:
        console.print(f"first token request failed: {stored.last_error}", style="yellow")
    return 0 if stored.state in SERVING else 1


def list_backends(client: AdminClient) -> list[credentials_pb2.Backend]:
    return list(client.call("credential_service", client.credentials().ListBackends,
                            credentials_pb2.ListBackendsRequest()).backends)


def pool_accounts(client: AdminClient) -> dict[tuple[str, str], pool_pb2.AccountState] | None:
    """pool_service's view of every credential it has seen; None when it cannot be asked."""
    try:
        answer = client.call("pool_service", client.pool().Accounts, pool_pb2.AccountsRequest())
    except CliError:
        return None
    return {(account.backend, account.credential): account for account in answer.accounts}


def pool_state(credential: credentials_pb2.CredentialInfo, account: pool_pb2.AccountState | None,
               now: float) -> tuple[str, float]:
    """(state, until) as users need it: the vault's needs-login/pending first (no token at all), then the pool's
    quarantined/cooldown/exhausted (this credential is skipped until then), then failing (refresh retried)."""
    if credential.state in NO_TOKEN:
        return CREDENTIAL_STATES.name(credential.state), 0.0
    if account is not None and account.status in RESTING:
        until = account.cooldown_until
        if account.status == pool_pb2.ACCOUNT_STATUS_EXHAUSTED:
            until = max((window.reset_at for window in account.windows if window.remaining <= 0), default=0.0)
        return ACCOUNT_STATUSES.name(account.status), until if until > now else 0.0
    return CREDENTIAL_STATES.name(credential.state) or "ok", 0.0


def state_text(state: str, until: float) -> str:
    return f"{state} until {time.strftime('%H:%M:%S', time.localtime(until))}" if until else state


def credential_rows(backends: list[credentials_pb2.Backend],
                    accounts: dict[tuple[str, str], pool_pb2.AccountState] | None, only: str = "") -> list[JsonObject]:
    """Every credential with its state (pool included) as plain data: the tables and --json both use it."""
    now, rows = time.time(), []
    for backend in backends:
        if only and backend.name != only:
            continue
        for credential in backend.credentials:
            account = (accounts or {}).get((backend.name, credential.name))
            state, until = pool_state(credential, account, now)
            rows.append({
                "backend": backend.name, "name": credential.name, "kind": CREDENTIAL_KINDS.name(credential.kind),
                "state": state,
                "until": until or None, "expires_at": credential.expires_at or None,
                "last_refresh": credential.last_refresh or None, "last_error": credential.last_error or None,
                "hint": credential.hint or None, "key_env": credential.key_env or None,
                "pool": None if account is None else {
                    "status": ACCOUNT_STATUSES.name(account.status), "headroom": round(account.headroom, 4),
                    "in_flight": account.in_flight, "chosen": account.chosen,
                    "last_status": account.last_status or None,
                },
            })
    return rows


STATE_STYLES = {"needs-login": "red", "quarantined": "red", "missing-key": "red", "failing": "yellow",
                "pending": "yellow", "cooldown": "yellow", "exhausted": "yellow"}


def credentials_table(rows: list[JsonObject], pool_known: bool = True) -> Table:
    table = Table("backend", "account", "kind", "state", "expires in", "last refresh", "hint / last error",
                  caption=None if pool_known else "pool_service did not answer: pool states unknown")
    now = time.time()
    for row in rows:
        expires = _duration(row["expires_at"] - now) if row["expires_at"] else "-"
        refreshed = _duration(now - row["last_refresh"]) + " ago" if row["last_refresh"] else "-"
        style = STATE_STYLES.get(row["state"], "green")
        detail = row["last_error"] or row["hint"] or (f"${row['key_env']}" if row["key_env"] else "")
        table.add_row(row["backend"], row["name"], row["kind"], styled(state_text(row["state"], row["until"] or 0),
                      style), expires, refreshed, detail)
    return table


def _duration(seconds: float) -> str:
    if seconds < 0:
        return "expired"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def accounts_list(paths: Paths, arguments: argparse.Namespace) -> int:
    with AdminClient(paths) as client:
        backends = list_backends(client)
        if arguments.backend and not any(backend.name == arguments.backend for backend in backends):
            raise CliError(f"no backend named {arguments.backend!r}")
        accounts = pool_accounts(client)
    rows = credential_rows(backends, accounts, arguments.backend)
    if arguments.json:
        print_json({"accounts": rows, "pool_service": accounts is not None})
    else:
        console.print(credentials_table(rows, accounts is not None))
    return 0


def remove_credential(paths: Paths, backend: str, name: str) -> int:
    with AdminClient(paths) as client:
        answer = client.call("credential_service", client.credentials().RemoveCredential,
                             credentials_pb2.RemoveCredentialRequest(backend=backend, name=name))
    console.print(f"removed account {name} of backend {backend}; {answer.remaining} account(s) left")
    return 0


def accounts_remove(paths: Paths, arguments: argparse.Namespace) -> int:
    return remove_credential(paths, arguments.backend, arguments.name)


def logout(paths: Paths, arguments: argparse.Namespace) -> int:
    """Forgets an OAuth login: its tokens leave the vault (revoke them at the provider too if it offers that)."""
    with AdminClient(paths) as client:
        backends = list_backends(client)
    backend = next((b for b in backends if b.name == arguments.name), None)
    if backend is None:
        raise CliError(f"no backend named {arguments.name!r}")
    credential = next((c for c in backend.credentials if c.name == arguments.account), None)
    if credential is None:
        raise CliError(f"backend {arguments.name!r} has no account named {arguments.account!r}")
    if credential.kind == credentials_pb2.CREDENTIAL_KIND_API_KEY:
        raise CliError(f"{arguments.name}/{arguments.account} is an API key, not a login: "
                       f"use `dario accounts remove {arguments.name} {arguments.account}`")
    return remove_credential(paths, arguments.name, arguments.account)


def refresh(paths: Paths, arguments: argparse.Namespace) -> int:
    request = credentials_pb2.RefreshRequest(backend=arguments.name or "", credential=arguments.account or "",
                                             force=True)
    with AdminClient(paths) as client:
        answer = client.call("credential_service", client.credentials().Refresh, request)
    failed = 0
    for result in answer.results:
        if result.refreshed:
            console.print(f"{result.backend}/{result.credential.name}: refreshed, valid for "
                          f"{_duration(result.credential.expires_at - time.time())}")
        else:
            failed += 1
            console.print(f"{result.backend}/{result.credential.name}: not refreshed: {result.error or 'unknown'} "
                          f"(state {CREDENTIAL_STATES.name(result.credential.state)})", style="red")
    return 1 if failed else 0


def add_account_arguments(commands: Commands, add_key_options: AddOptions) -> argparse.ArgumentParser:
    """The accounts, refresh and logout commands; returns `accounts add`'s parser (its handler needs the key reader)."""
    accounts = commands.add_parser("accounts", help="credentials (accounts) of a backend; two or more form a pool")
    actions = accounts.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add an API key, an OAuth refresh token or an OAuth client")
    add.add_argument("backend")
    add.add_argument("name")
    add.add_argument("--replace", action="store_true", help="replace an account of the same name")
    kind = add.add_mutually_exclusive_group()
    kind.add_argument("--oauth", action="store_true", help="an OAuth refresh token (refreshed by dario)")
    kind.add_argument("--client-credentials", action="store_true", help="an OAuth client (client-credentials grant)")
    add.add_argument("--token-url")
    add.add_argument("--client-id")
    add.add_argument("--scope", default="")
    add.add_argument("--refresh-token-stdin", action="store_true")
    add.add_argument("--refresh-token-env", metavar="VAR")
    add.add_argument("--client-secret-stdin", action="store_true")
    add.add_argument("--client-secret-env", metavar="VAR")
    add_key_options(add)
    listing = actions.add_parser("list", help="accounts with kind, state (the pool's too) and expiry (never a secret)")
    listing.add_argument("backend", nargs="?", default="")
    add_json_option(listing)
    listing.set_defaults(handler=accounts_list)
    remove = actions.add_parser("remove", help="remove one account of a backend")
    remove.add_argument("backend")
    remove.add_argument("name")
    remove.set_defaults(handler=accounts_remove)
    refresh_parser = commands.add_parser("refresh", help="refresh OAuth tokens now")
    refresh_parser.add_argument("name", nargs="?", default="", help="backend (default: all)")
    refresh_parser.add_argument("--account", default="", help="one account of the backend (default: all)")
    refresh_parser.set_defaults(handler=refresh)
    logout_parser = commands.add_parser("logout", help="forget an OAuth login (its tokens leave the vault)")
    logout_parser.add_argument("name", help="backend")
    logout_parser.add_argument("--account", default="default")
    logout_parser.set_defaults(handler=logout)
    return add
