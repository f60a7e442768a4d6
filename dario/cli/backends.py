"""`dario backend add | list | remove | test`: backends in the vault (and config.toml's, listed), never a secret.

`add` and `test` probe the backend from credential_service, which holds the keys: the CLI is told only what
answered (status, URL, the upstream's error message).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from rich.table import Table

from dario.cli.client import AdminClient, CliError
from dario.cli.keys import ReadKey
from dario.cli.output import AddOptions, Commands, add_json_option, console, print_json, styled
from dario.config import Paths, RoutingConfig
from dario.enums import BACKEND_KINDS, CREDENTIAL_KINDS, CREDENTIAL_STATES, PROBE_VERDICTS
from dario.json_types import JsonObject
from dario.presets import KINDS, PRESETS, preset_base_url, speaks
from dario.v1 import credentials_pb2

PROBE_CALL_TIMEOUT_SECONDS = 60.0  # credential_service gives each probe request 8 s; an add may make three
ReadRouting = Callable[[], RoutingConfig]


def _location(arguments: argparse.Namespace) -> tuple[str, str, bool, str]:
    """(kind, base URL, needs a key, the variable its docs read the key from) from --preset or --kind/--base-url."""
    if not arguments.preset:
        if arguments.resource:
            raise CliError("--resource fills a preset's URL (--preset azure); with --kind give the whole --base-url")
        if not arguments.kind or not arguments.base_url:
            raise CliError("give --preset P, or both --kind and --base-url")
        return arguments.kind, arguments.base_url, False, ""
    preset = PRESETS.get(arguments.preset)
    if preset is None:
        raise CliError(f"unknown preset {arguments.preset!r}; known: {', '.join(PRESETS)}")
    if arguments.kind and not speaks(preset.kind, arguments.kind):
        raise CliError(f"preset {arguments.preset!r} is of kind {preset.kind}, not {arguments.kind}")
    try:
        base_url = arguments.base_url or preset_base_url(arguments.preset, preset, arguments.resource or "")
    except ValueError as error:
        raise CliError(str(error)) from None
    return arguments.kind or preset.kind, base_url, preset.needs_key, preset.key_env


def backend_add(paths: Paths, arguments: argparse.Namespace, read_key: ReadKey) -> int:
    kind, base_url, needs_key, variable = _location(arguments)
    key = read_key(arguments, variable)
    if arguments.no_account:
        if key:
            raise CliError("--no-account creates the backend without a credential: leave out the key option")
    elif needs_key and not key:
        variable = variable or "VAR"
        raise CliError(f"preset {arguments.preset!r} needs a key: `export {variable}=…` then add --key-env "
                       f"{variable}, or --key-stdin to paste it")
    request = credentials_pb2.AddBackendRequest(
        name=arguments.name, kind=BACKEND_KINDS.value(kind), base_url=base_url, credential_name=arguments.account,
        api_key=key,
        no_credential=arguments.no_account, probe=not arguments.no_probe,
    )
    with AdminClient(paths) as client:
        answer = client.call("credential_service", client.credentials().AddBackend, request,
                             timeout=PROBE_CALL_TIMEOUT_SECONDS)
    backend, kind = answer.backend, BACKEND_KINDS.name(answer.backend.kind)
    console.print(f"backend {backend.name} ({kind}, {backend.base_url}) has {len(backend.credentials)} "
                  f"credential(s); requests go to {backend.base_url}/{_api_path(kind)}")
    if answer.HasField("probe"):
        _print_probe(answer.probe)
    elif not arguments.no_account:
        console.print("not probed (--no-probe): `dario backend test " + backend.name + "` checks it")
    return 0


def _api_path(kind: str) -> str:
    return "messages" if kind == "anthropic" else "chat/completions"


def probe_line(result: credentials_pb2.ProbeResult) -> tuple[str, str]:
    """(one line saying what answered, its style)."""
    method = "POST" if result.url.endswith("/messages") else "GET"
    who = f" with account {result.credential}" if result.credential else " without a key"
    called = f"{method} {result.url}{who}"
    message = f": {result.message}" if result.message else ""
    if result.verdict == credentials_pb2.PROBE_VERDICT_OK:
        listed = f", {result.models} model(s) listed" if result.models >= 0 else ""
        return f"probe: {called} answered {result.status}{listed}{message}", "green"
    if result.verdict == credentials_pb2.PROBE_VERDICT_KEY_REFUSED:
        return (f"probe: {called} answered {result.status}{message}: the base URL is right, the key was refused",
                "red")
    if result.verdict == credentials_pb2.PROBE_VERDICT_NOT_FOUND:
        return (f"probe: {called} answered 404{message}: nothing is served at this base URL; check it against the "
                "provider's docs", "red")
    if result.verdict == credentials_pb2.PROBE_VERDICT_UNREACHABLE:
        return f"probe: {called}: no answer{message} (is the server running, the URL right?)", "red"
    return f"probe: {called} answered {result.status}{message}", "yellow"


def _print_probe(result: credentials_pb2.ProbeResult) -> None:
    line, style = probe_line(result)
    console.print(styled(line, style))


def backend_test(paths: Paths, arguments: argparse.Namespace) -> int:
    with AdminClient(paths) as client:
        answer = client.call("credential_service", client.credentials().ProbeBackend,
                             credentials_pb2.ProbeBackendRequest(name=arguments.name),
                             timeout=PROBE_CALL_TIMEOUT_SECONDS)
    if arguments.json:
        print_json({"results": [{"url": r.url, "status": r.status, "verdict": PROBE_VERDICTS.name(r.verdict),
                                 "message": r.message, "credential": r.credential or None,
                                 "models": r.models if r.models >= 0 else None}
                                for r in answer.results]})
    else:
        for result in answer.results:
            _print_probe(result)
    return 0 if all(result.verdict == credentials_pb2.PROBE_VERDICT_OK for result in answer.results) else 1


def backend_rows(backends: list[credentials_pb2.Backend]) -> list[JsonObject]:
    return [{"name": backend.name, "kind": BACKEND_KINDS.name(backend.kind), "base_url": backend.base_url,
             "source": backend.source or "vault",
             "credentials": [{"name": credential.name, "kind": CREDENTIAL_KINDS.name(credential.kind),
                              "hint": credential.hint or None, "key_env": credential.key_env or None,
                              "state": CREDENTIAL_STATES.name(credential.state) or "ok"}
                             for credential in backend.credentials]}
            for backend in backends]


def backend_list(paths: Paths, arguments: argparse.Namespace) -> int:
    with AdminClient(paths) as client:
        answer = client.call("credential_service", client.credentials().ListBackends,
                             credentials_pb2.ListBackendsRequest())
    rows = backend_rows(list(answer.backends))
    if arguments.json:
        print_json({"backends": rows})
        return 0
    if not rows:
        console.print("no backends yet: add one with `dario backend add NAME --preset openai --key-env "
                      "OPENAI_API_KEY`")
        return 0
    table = Table("backend", "kind", "base URL", "credentials", "from")
    for row in rows:
        credentials = ", ".join(
            f"{credential['name']} ({credential['kind']}"
            + (f" {credential['hint']}" if credential["hint"] else "")
            + (f" ${credential['key_env']}" if credential["key_env"] else "") + ")"
            for credential in row["credentials"])
        table.add_row(row["name"], row["kind"], row["base_url"], credentials, row["source"])
    console.print(table)
    return 0


def rules_using(routing: RoutingConfig, backend: str) -> list[str]:
    """Where config.toml's routing names backend (as a rule's backend, a fallback, or the default backend)."""
    uses = [f"line {rule.line} ({rule.match!r} → {rule.backend})" for rule in routing.rules
            if rule.backend == backend or any(target.partition(":")[0] == backend for target in rule.fallbacks)]
    if routing.default_backend == backend:
        uses.append("default_backend")
    return uses


def backend_remove(paths: Paths, arguments: argparse.Namespace, read_routing: ReadRouting) -> int:
    try:
        uses = rules_using(read_routing(), arguments.name)
    except CliError as error:  # a broken config.toml must not keep a backend from being removed
        uses = []
        print(f"warning: could not check config.toml's rules: {error}", file=sys.stderr)
    if uses and not arguments.force:
        raise CliError(f"config.toml names backend {arguments.name!r} at {', '.join(uses)}: requests those rules "
                       "match would go to their fallbacks, or fail. Change the rules, or add --force to remove it "
                       "anyway")
    with AdminClient(paths) as client:
        answer = client.call("credential_service", client.credentials().RemoveBackend,
                             credentials_pb2.RemoveBackendRequest(name=arguments.name))
    if uses:
        print(f"warning: config.toml still names {arguments.name!r} at {', '.join(uses)}", file=sys.stderr)
    console.print(f"removed backend {arguments.name} and {answer.credentials_removed} credential(s)")
    return 0


def add_backend_arguments(commands: Commands, add_key_options: AddOptions, read_key: ReadKey,
                          read_routing: ReadRouting) -> None:
    backend = commands.add_parser("backend", help="add, list, test and remove backends").add_subparsers(
        dest="action", required=True)
    add = backend.add_parser("add", help="add a backend (or another credential to one), probing it first")
    add.add_argument("name")
    add.add_argument("--preset", help=f"one of: {', '.join(PRESETS)}")
    add.add_argument("--kind", choices=KINDS)
    add.add_argument("--base-url", help="as the provider documents it for its SDK (Anthropic kind: with or "
                                        "without /v1)")
    add.add_argument("--resource", help="the resource name a preset's URL needs (--preset azure)")
    add.add_argument("--account", default="default", help="name of this credential (default: default)")
    add.add_argument("--no-account", action="store_true",
                     help="no credential yet: add one with `dario accounts add` or `dario login`")
    add.add_argument("--no-probe", action="store_true", help="store it without asking the backend first")
    add_key_options(add)
    add.set_defaults(handler=lambda paths, arguments: backend_add(paths, arguments, read_key))
    listing = backend.add_parser("list", help="list backends (never a secret)")
    add_json_option(listing)
    listing.set_defaults(handler=backend_list)
    test = backend.add_parser("test", help="ask the backend whether it answers, with each of its credentials")
    test.add_argument("name")
    add_json_option(test)
    test.set_defaults(handler=backend_test)
    remove = backend.add_parser("remove", help="remove a backend and its credentials")
    remove.add_argument("name")
    remove.add_argument("--force", action="store_true", help="remove it even though config.toml's rules name it")
    remove.set_defaults(handler=lambda paths, arguments: backend_remove(paths, arguments, read_routing))
