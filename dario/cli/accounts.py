"""`dario accounts`, `refresh`, `logout` and the credentials part of `dario status`: never a secret printed."""

from __future__ import annotations

import argparse
import os
import sys
import time

from rich.console import Console
from rich.table import Table

from dario.cli.client import AdminClient, CliError
from dario.settings import Paths
from dario.v1 import credentials_pb2

# Piped output (scripts, grep) gets wide tables rather than columns cut to 80 characters.
console = Console(width=None if sys.stdout.isatty() else 200)


def secret_from(arguments: argparse.Namespace, option: str, what: str, required: bool = True) -> str:
    """A secret from `--OPTION-stdin` or `--OPTION-env VAR`: never from the command line itself."""
    if getattr(arguments, f"{option}_stdin", False):
        value = sys.stdin.read().strip()
        if not value:
            raise CliError(f"no {what} on standard input")
        return value
    variable = getattr(arguments, f"{option}_env", None)
    if variable:
        value = os.environ.get(variable, "").strip()
        if not value:
            raise CliError(f"environment variable {variable} is not set or empty")
        return value
    if required:
        flag = option.replace("_", "-")
        raise CliError(f"give the {what} with --{flag}-stdin or --{flag}-env VAR")
    return ""


def accounts_add(paths: Paths, arguments: argparse.Namespace, read_key) -> int:
    stdin_users = [name for name in ("key_stdin", "refresh_token_stdin", "client_secret_stdin")
                   if getattr(arguments, name, False)]
    if len(stdin_users) > 1:
        raise CliError("only one secret can come from standard input; pass the others with --…-env VAR")
    request = credentials_pb2.AddCredentialRequest(backend=arguments.backend, name=arguments.name,
                                                   replace=arguments.replace)
    if arguments.oauth or arguments.client_credentials:
        if not arguments.token_url or not arguments.client_id:
            raise CliError("--token-url and --client-id are needed for --oauth and --client-credentials")
        request.kind = "oauth" if arguments.oauth else "client_credentials"
        request.oauth.token_url, request.oauth.client_id = arguments.token_url, arguments.client_id
        request.oauth.scope = arguments.scope
        request.oauth.client_secret = secret_from(arguments, "client_secret", "client secret",
                                                  required=arguments.client_credentials)
        if arguments.oauth:
            request.oauth.refresh_token = secret_from(arguments, "refresh_token", "refresh token")
    else:
        request.kind, request.api_key = "api_key", read_key(arguments)
    with AdminClient(paths) as client:
        answer = client.call("credential_service", client.credentials().AddCredential, request)
    stored = next(c for c in answer.backend.credentials if c.name == arguments.name)
    console.print(f"account [bold]{stored.name}[/] ({stored.kind}) added to backend {answer.backend.name}, "
                  f"which has {len(answer.backend.credentials)} account(s); state: {stored.state or 'ok'}")
    if stored.last_error:
        console.print(f"first token request failed: {stored.last_error}", style="yellow")
    return 0 if stored.state in ("ok", "failing", "") else 1


def list_backends(client: AdminClient) -> list[credentials_pb2.Backend]:
    return list(client.call("credential_service", client.credentials().ListBackends,
                            credentials_pb2.ListBackendsRequest()).backends)


def credentials_table(backends: list[credentials_pb2.Backend], only: str = "") -> Table:
    table = Table("backend", "account", "kind", "state", "expires in", "last refresh", "hint / last error")
    now = time.time()
    for backend in backends:
        if only and backend.name != only:
            continue
        for credential in backend.credentials:
            expires = _duration(credential.expires_at - now) if credential.expires_at else "-"
            refreshed = _duration(now - credential.last_refresh) + " ago" if credential.last_refresh else "-"
            state = credential.state or "ok"
            style = {"needs-login": "red", "failing": "yellow", "pending": "yellow"}.get(state, "green")
            table.add_row(backend.name, credential.name, credential.kind, f"[{style}]{state}[/]", expires,
                          refreshed, credential.last_error or credential.hint)
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
    console.print(credentials_table(backends, arguments.backend))
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
    if credential.kind == "api_key":
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
                          f"(state {result.credential.state})", style="red")
    return 1 if failed else 0


def add_account_arguments(commands: argparse._SubParsersAction, add_key_options) -> None:
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
    listing = actions.add_parser("list", help="accounts with kind, state and expiry (never a secret)")
    listing.add_argument("backend", nargs="?", default="")
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
