"""[cluster] and DARIO_CLUSTER_*: absent means embedded; URLs are checked (and never echoed with a password)."""

from __future__ import annotations

import pathlib
import socket

import pytest

from dario.config import ClusterConfig, ConfigError, Environment, load_config, parse_config
from dario.config.cluster import shown_url


def load(home: pathlib.Path, text: str = "", **variables: str) -> ClusterConfig:
    (home / "config.toml").write_text(text)
    return load_config(Environment.read({"DARIO_HOME": str(home), **variables})).cluster


def test_no_cluster_section_keeps_pools_in_the_process(tmp_path: pathlib.Path) -> None:
    cluster = load(tmp_path)
    assert not cluster.shares_pools and cluster.redis == cluster.postgres == ""
    assert cluster.instance == f"{socket.gethostname()}:3456" and cluster.prefix == "dario"


def test_the_section_is_read_and_the_environment_wins(tmp_path: pathlib.Path) -> None:
    text = ('[server]\nport = 4001\n[cluster]\nredis = "redis://10.0.0.5:6379/2"\n'
            'postgres = "postgresql://dario@10.0.0.6/dario"\nprefix = "team"\nheartbeat_seconds = 0.5\n')
    cluster = load(tmp_path, text)
    assert cluster.shares_pools and cluster.redis == "redis://10.0.0.5:6379/2"
    assert cluster.postgres == "postgresql://dario@10.0.0.6/dario" and cluster.prefix == "team"
    assert cluster.instance == f"{socket.gethostname()}:4001" and cluster.heartbeat_seconds == 0.5
    overridden = load(tmp_path, text, DARIO_CLUSTER_REDIS="rediss://r.example:6380", DARIO_CLUSTER_INSTANCE="a-1",
                      DARIO_CLUSTER_PREFIX="run7", DARIO_CLUSTER_POSTGRES="postgres://p.example/db")
    assert (overridden.redis, overridden.instance, overridden.prefix, overridden.postgres) == (
        "rediss://r.example:6380", "a-1", "run7", "postgres://p.example/db")


@pytest.mark.parametrize(("text", "needle"), [
    ('[cluster]\nredis = "http://10.0.0.5:6379"\n', "cluster.redis must start with redis://"),
    ('[cluster]\nredis = "redis://"\n', "cluster.redis names no host"),
    ('[cluster]\nredis = "redis://h:99999"\n', "cluster.redis is not a valid URL"),
    ('[cluster]\npostgres = "mysql://h/db"\n', "cluster.postgres must start with postgresql://"),
    ('[cluster]\ninstance = "a b"\n', "cluster.instance must be"),
    ('[cluster]\nprefix = "{x}"\n', "cluster.prefix must be"),
    ('[cluster]\nheartbeat_seconds = 0\n', "cluster.heartbeat_seconds must be between"),
    ('[cluster]\nredis_url = "redis://h"\n', "unknown setting cluster.redis_url"),
    ('cluster = 3\n', "cluster must be a table"),
])
def test_a_bad_cluster_setting_is_refused_by_name(text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[")):
        parse_config(text)


def test_a_password_never_reaches_a_message_or_the_repr() -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config('[cluster]\nredis = "http://user:s3cret-pass@h:1"\n')
    assert "s3cret-pass" not in str(refused.value) and "***" in str(refused.value)
    config = parse_config('[cluster]\nredis = "redis://:s3cret-pass@h:1/0"\n')
    assert "s3cret-pass" not in repr(config) and "s3cret-pass" not in repr(config.environment)
    assert shown_url(config.cluster.redis) == "redis://:***@h:1/0"
