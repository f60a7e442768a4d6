"""The config comes from the environment, then config.toml, then defaults; bad values are refused clearly."""

import pathlib

import pytest

from dario.config import ConfigError, Environment, ServerConfig, load_config


def load(home: pathlib.Path, **variables: str):
    return load_config(Environment.read({"DARIO_HOME": str(home), **variables}))


def test_defaults_with_an_empty_home(tmp_path: pathlib.Path) -> None:
    config = load(tmp_path)
    assert config.paths.home == tmp_path.resolve()
    assert (config.server.host, config.server.port, config.routing.default_backend) == (
        "127.0.0.1", ServerConfig().port, "")
    assert config.paths.credential_socket == tmp_path.resolve() / "run" / "credential.sock"


def test_config_file_then_environment_override(tmp_path: pathlib.Path) -> None:
    (tmp_path / "config.toml").write_text('default_backend = "local"\n[server]\nport = 4000\n')
    config = load(tmp_path)
    assert config.server.port == 4000
    overridden = load(tmp_path, DARIO_PORT="5000", DARIO_FORCE_MODEL="m", DARIO_DEFAULT_BACKEND="other")
    assert (overridden.server.port, overridden.routing.forced_model, overridden.routing.default_backend) == (
        5000, "m", "other")


def test_broken_config_file_is_refused_with_its_path(tmp_path: pathlib.Path) -> None:
    (tmp_path / "config.toml").write_text("default_backend = \n")
    with pytest.raises(ConfigError, match="config.toml"):
        load(tmp_path)


def test_non_numeric_port_is_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match="port"):
        load(tmp_path, DARIO_PORT="eighty")


def test_ensure_creates_private_folders(tmp_path: pathlib.Path) -> None:
    config = load(tmp_path / "home")
    config.paths.ensure()
    for folder in (config.paths.home, config.paths.run_dir, config.paths.logs_dir):
        assert folder.stat().st_mode & 0o777 == 0o700


def test_upstream_limits_come_from_config_limits(tmp_path: pathlib.Path) -> None:
    (tmp_path / "config.toml").write_text("[limits]\nupstream_stall_seconds = 30\nupstream_body_bytes = 1048576\n")
    limits = load(tmp_path).limits.upstream
    assert (limits.stall_seconds, limits.body_bytes, limits.first_byte_seconds) == (30.0, 1048576, 600.0)
    (tmp_path / "config.toml").write_text("[limits]\nupstream_total_seconds = -1\n")
    with pytest.raises(ConfigError, match="upstream_total_seconds"):
        load(tmp_path)
