"""Settings come from the environment, then config.toml, then defaults; bad values are refused clearly."""

import pathlib

import pytest

from dario.settings import DEFAULT_PORT, ConfigError, load_settings


def test_defaults_with_an_empty_home(tmp_path: pathlib.Path) -> None:
    settings = load_settings({"DARIO_HOME": str(tmp_path)})
    assert settings.paths.home == tmp_path.resolve()
    assert (settings.host, settings.port, settings.default_backend) == ("127.0.0.1", DEFAULT_PORT, "")
    assert settings.paths.credential_socket == tmp_path.resolve() / "run" / "credential.sock"


def test_config_file_then_environment_override(tmp_path: pathlib.Path) -> None:
    (tmp_path / "config.toml").write_text('default_backend = "local"\n[server]\nport = 4000\n')
    settings = load_settings({"DARIO_HOME": str(tmp_path)})
    assert settings.port == 4000
    overridden = load_settings({"DARIO_HOME": str(tmp_path), "DARIO_PORT": "5000", "DARIO_FORCE_MODEL": "m",
                                "DARIO_DEFAULT_BACKEND": "other"})
    assert (overridden.port, overridden.forced_model, overridden.default_backend) == (5000, "m", "other")


def test_broken_config_file_is_refused_with_its_path(tmp_path: pathlib.Path) -> None:
    (tmp_path / "config.toml").write_text("default_backend = \n")
    with pytest.raises(ConfigError, match="config.toml"):
        load_settings({"DARIO_HOME": str(tmp_path)})


def test_non_numeric_port_is_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match="port"):
        load_settings({"DARIO_HOME": str(tmp_path), "DARIO_PORT": "eighty"})


def test_ensure_creates_private_folders(tmp_path: pathlib.Path) -> None:
    settings = load_settings({"DARIO_HOME": str(tmp_path / "home")})
    settings.paths.ensure()
    for folder in (settings.paths.home, settings.paths.run_dir, settings.paths.logs_dir):
        assert folder.stat().st_mode & 0o777 == 0o700


def test_upstream_limits_come_from_config_limits(tmp_path: pathlib.Path) -> None:
    (tmp_path / "config.toml").write_text("[limits]\nupstream_stall_seconds = 30\nupstream_body_bytes = 1048576\n")
    limits = load_settings({"DARIO_HOME": str(tmp_path)}).upstream_limits
    assert (limits.stall_seconds, limits.body_bytes, limits.first_byte_seconds) == (30.0, 1048576, 600.0)
    (tmp_path / "config.toml").write_text("[limits]\nupstream_total_seconds = -1\n")
    with pytest.raises(ConfigError, match="upstream_total_seconds"):
        load_settings({"DARIO_HOME": str(tmp_path)})
