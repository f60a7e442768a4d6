"""The supervisord config `dario up` runs: deploy/dario.conf (shipped as package data) made concrete for one home.

Generated rather than used as is because the checkout's form keeps supervisord's files in deploy/var/ (supervisor
cannot default DARIO_HOME or make folders: see the head of deploy/dario.conf), which allows one stack per checkout
and needs a checkout. The copy in $DARIO_HOME/run/supervisord.conf has absolute paths only and starts each service
as `PYTHON -P -m MODULE` of the Python running the CLI, so it needs no checkout, no PATH and no variable: it works
from any shell and folder, by hand too (`supervisorctl -c ~/.dario/run/supervisord.conf status`).
"""

from __future__ import annotations

import importlib.resources
import os
import re
import shlex
import sys

from dario.config import Paths

TEMPLATE = "supervisord.conf"  # in the dario package: a link to deploy/dario.conf in a checkout, a copy in a wheel
CONFIG_NAME = "supervisord.conf"
# The checkout's folder for supervisord's files, and where each of them goes in a home: sockets and the pid in
# run/, logs (and childlogdir, the folder itself) in logs/.
_FILES = re.compile(r"%\(here\)s/var(?P<name>/[^\s;]*)?")
_CHECKOUT_ENVIRONMENT = 'environment=DARIO_SUPERVISOR_FILES="checkout"\n'
_COMMAND = re.compile(r"^command=%\(here\)s/run (?P<module>[A-Za-z_][A-Za-z0-9_.]*)$", re.MULTILINE)
# Characters supervisor's own parsers cannot carry in a path: quotes and backslashes (its shlex has no POSIX
# escapes), and % (values are %-expanded, [supervisord] environment= twice, so no one escape fits every line).
_UNSAFE = re.compile(r"[\"'\\%\n\r\0]")


class ConfigTemplateError(RuntimeError):
    """The shipped template no longer has the shape this module rewrites (a test catches it first)."""


def template_text() -> str:
    return importlib.resources.files("dario").joinpath(TEMPLATE).read_text(encoding="utf-8")


def config_path(paths: Paths) -> os.PathLike[str]:
    return paths.run_dir / CONFIG_NAME


def launcher(module: str, python: str) -> str:
    """The program command: sh records supervisord's pid (the parent the service checks it still has, as deploy/run
    does) and execs Python, so supervisord stays the direct parent. -P: the working folder is never imported from."""
    script = 'export DARIO_PARENT_PID=$PPID; exec "$0" -P -m "$1"'
    return f"/bin/sh -c {shlex.quote(script)} {shlex.quote(python)} {module}"


def render(template: str, paths: Paths, python: str = sys.executable) -> str:
    """The template with the absolute home, direct commands, and DARIO_HOME given to every program."""
    home = str(paths.home)
    for value, what in ((home, "DARIO_HOME"), (python, "the Python interpreter's path")):
        if _UNSAFE.search(value):
            raise ValueError(f"{what} ({value!r}) holds a quote, backslash, % or control character, which "
                             "supervisord's config cannot carry; use another folder")
    if not _COMMAND.search(template) or "[supervisord]\n" not in template or "\n[" not in template:
        raise ConfigTemplateError("the supervisord template has no `command=%(here)s/run MODULE` lines")
    # The template's opening comments explain the checkout's form; the copy gets its own.
    text = _FILES.sub(lambda match: _home_path(paths, match["name"] or ""), template[template.index("\n[") + 1:])
    text = _COMMAND.sub(lambda match: f"command={launcher(match['module'], python)}\n"
                                      f"directory={home}", text)
    # Children get DARIO_HOME even when this file is started by hand from a shell that has none.
    if _CHECKOUT_ENVIRONMENT not in text:
        raise ConfigTemplateError("the supervisord template no longer sets DARIO_SUPERVISOR_FILES")
    text = text.replace(_CHECKOUT_ENVIRONMENT, f"environment=DARIO_HOME=\"{home}\"\ndirectory={home}\n", 1)
    leftover = re.search(r"%\((?:ENV_[A-Za-z_]+|here)\)s", _without_comments(text))
    if leftover:
        raise ConfigTemplateError(f"the supervisord template still needs {leftover[0]} after rendering")
    header = ("; Written by `dario up` from deploy/dario.conf for this DARIO_HOME; rewritten at every `dario up`.\n"
              f"; supervisorctl -c {paths.run_dir / CONFIG_NAME} status   works from any shell.\n")
    return header + text


def _home_path(paths: Paths, name: str) -> str:
    if name.endswith((".sock", ".pid")):
        return str(paths.run_dir) + name
    return str(paths.logs_dir) + name


def _without_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith((";", "#")))


def drop_checkout_links(paths: Paths) -> None:
    """Removes the links deploy/run made into this home for a supervisord started on the checkout's form (one that
    is no longer running: the caller checked), so the next supervisord writes its own files, not through them."""
    for folder in (paths.run_dir, paths.logs_dir):
        for entry in folder.glob("*"):
            if entry.is_symlink() and entry.suffix in (".sock", ".pid", ".log"):
                entry.unlink(missing_ok=True)


def write_config(paths: Paths, python: str = sys.executable) -> os.PathLike[str]:
    """Writes run/supervisord.conf (0600) for this home and returns its path; the folders must exist. Called only
    while no supervisord runs on the home, so it also drops what a checkout-form one left (drop_checkout_links)."""
    drop_checkout_links(paths)
    target = paths.run_dir / CONFIG_NAME
    text = render(template_text(), paths, python)
    temporary = target.with_name(f".{CONFIG_NAME}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, target)
    return target
