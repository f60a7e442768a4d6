"""The supervisord config `dario up` writes: valid for supervisor's own parser, absolute, and needing nothing from
the shell that reads it (no DARIO_HOME, no checkout, no PATH)."""

from __future__ import annotations

import os
import pathlib
import shlex

import pytest
from supervisor.options import ClientOptions, ServerOptions

from dario.cli.supervisor_config import render, template_text, write_config
from dario.config import Paths
from dario.testing.processes import REPO


def parsed(config: pathlib.Path, environ: dict[str, str]) -> tuple[ServerOptions, ClientOptions]:
    previous = dict(os.environ)
    os.environ.clear()
    os.environ.update(environ)
    try:
        options = ServerOptions()
        options.configfile = str(config)
        options.process_config(do_usage=False)
        client = ClientOptions()
        client.configfile = str(config)
        client.process_config(do_usage=False)
        return options, client
    finally:
        os.environ.clear()
        os.environ.update(previous)


def test_the_written_config_parses_with_no_environment_at_all(tmp_path: pathlib.Path) -> None:
    paths = Paths(tmp_path / "a home")  # a space is carried
    paths.ensure()
    config = write_config(paths, python="/opt/py/bin/python")
    assert isinstance(config, pathlib.Path)  # typed os.PathLike[str]
    assert config.stat().st_mode & 0o777 == 0o600
    server, client = parsed(config, {})  # a new shell with nothing set, as `supervisorctl -c … shutdown` sees it
    assert client.serverurl == f"unix://{paths.run_dir / 'supervisor.sock'}"
    assert server.logfile == str(paths.logs_dir / "supervisord.log")
    assert server.pidfile == str(paths.run_dir / "supervisord.pid")
    assert server.childlogdir == str(paths.logs_dir)
    assert server.configroot.supervisord.environment == {"DARIO_HOME": str(paths.home)}
    programs = {group.name: group.process_configs[0] for group in server.process_group_configs}
    assert set(programs) == {"credential_service", "pool_service", "frontend"}
    for name, program in programs.items():
        arguments = shlex.split(program.command)
        assert arguments[0] == "/bin/sh" and arguments[-2:] == ["/opt/py/bin/python", name]
        assert 'exec "$0" -P -m "$1"' in arguments[2] and "DARIO_PARENT_PID=$PPID" in arguments[2]
        assert program.directory == str(paths.home)
        assert program.stdout_logfile == str(paths.logs_dir / f"{name}.log")
        assert program.stopasgroup and program.killasgroup


def test_the_template_is_the_checkouts_config_and_unsafe_homes_are_refused(tmp_path: pathlib.Path) -> None:
    assert template_text() == (REPO / "deploy" / "dario.conf").read_text()
    for unsafe in ('it"s', "100%", "back\\slash"):
        with pytest.raises(ValueError, match="quote, backslash, %"):
            render(template_text(), Paths(tmp_path / unsafe))


def test_the_checkouts_form_parses_with_no_environment_and_keeps_its_files_in_deploy_var() -> None:
    var = REPO / "deploy" / "var"
    server, client = parsed(REPO / "deploy" / "dario.conf", {})  # no DARIO_HOME, no HOME: still a valid file
    assert client.serverurl == f"unix://{var / 'supervisor.sock'}"
    assert (server.logfile, server.pidfile, server.childlogdir) == (
        str(var / "supervisord.log"), str(var / "supervisord.pid"), str(var))
    assert server.configroot.supervisord.environment == {"DARIO_SUPERVISOR_FILES": "checkout"}
    programs = {group.name: group.process_configs[0] for group in server.process_group_configs}
    for name, program in programs.items():
        assert program.command == f"{REPO / 'deploy' / 'run'} {name}"
        assert program.stdout_logfile == str(var / f"{name}.log")
