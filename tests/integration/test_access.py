"""The access rules (architecture.md, Security): the key when set (both header forms, constant-time), /health open,
CORS only by opt-in, and no start on a non-loopback address without a key."""

from __future__ import annotations

import subprocess
import sys

import aiohttp
import anthropic
import openai
import pytest

from dario.config import ConfigError, Environment, load_config
from dario.testing.processes import REPO, environment
from dario.testing.scripted_upstream import ScriptedUpstream
from dario.testing.stack import Services, running_frontend, wait_for_backends, with_server
from frontend.access import is_loopback, refuse_exposed_without_key

pytestmark = pytest.mark.timeout(120)
KEY = "dario-local-key-0123456789"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(("host", "loopback", "keyless"), [
    ("127.0.0.1", True, True), ("::1", True, True), ("localhost", True, True),
    ("127.0.0.2", True, False), ("127.0.0.5", True, False),  # loopback, but not the default bind: the key is asked
    ("0.0.0.0", False, False), ("192.0.2.10", False, False), ("::", False, False), ("example.invalid", False, False)])
def test_only_the_default_bind_starts_without_a_key(host: str, loopback: bool, keyless: bool) -> None:
    assert is_loopback(host) is loopback
    assert (refuse_exposed_without_key(host, "") is None) is keyless
    assert refuse_exposed_without_key(host, KEY) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.2"])
def test_frontend_refuses_to_start_on_another_address_without_a_key(tmp_path, host: str) -> None:
    result = subprocess.run([sys.executable, "-m", "frontend", "--host", host, "--port", "0"],
                            env=environment(tmp_path / "home"), capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 2
    assert "DARIO_API_KEY" in result.stderr and host in result.stderr


async def test_with_a_key_every_endpoint_but_health_requires_it(services: Services,
                                                                upstream: ScriptedUpstream) -> None:
    config = with_server(services.config, api_key=KEY)
    async with running_frontend(config) as server, aiohttp.ClientSession() as session:
        await wait_for_backends(server, 1)
        url = server.make_url("/v1/chat/completions")
        async with session.post(url, json=BODY) as answer:
            assert answer.status == 401 and (await answer.json())["error"]["code"] == "invalid_api_key"
        async with session.post(url, json=BODY, headers={"authorization": "Bearer wrong-key"}) as answer:
            assert answer.status == 401
        async with session.post(server.make_url("/v1/messages"), json=dict(BODY, max_tokens=5)) as answer:
            assert answer.status == 401 and (await answer.json())["error"]["type"] == "authentication_error"
        async with session.get(server.make_url("/v1/models")) as answer:
            assert answer.status == 401
        async with session.get(server.make_url("/health")) as answer:
            assert answer.status == 200
        sdk = openai.AsyncOpenAI(base_url=str(server.make_url("/v1")), api_key=KEY, max_retries=0)
        assert (await sdk.chat.completions.create(**BODY)).choices[0].message.content
        assert upstream.requests[-1].headers["Authorization"] != f"Bearer {KEY}"  # never forwarded upstream
        async with session.post(url, json=BODY, headers={"x-api-key": KEY}) as answer:
            assert answer.status == 200
        with pytest.raises(anthropic.AuthenticationError):
            await anthropic.AsyncAnthropic(base_url=str(server.make_url("")), api_key="wrong",
                                           max_retries=0).messages.create(model="gpt-4o", max_tokens=5,
                                                                          messages=BODY["messages"])


async def test_cors_is_off_by_default_and_opt_in_for_one_origin(services: Services) -> None:
    origin = "http://localhost:5173"
    async with running_frontend(services.config) as server, aiohttp.ClientSession() as session:
        async with session.options(server.make_url("/v1/chat/completions"), headers={"origin": origin}) as answer:
            assert answer.status == 403 and "access-control-allow-origin" not in answer.headers
            assert (await answer.json())["error"]["code"] == "origin_not_allowed"
    config = with_server(services.config, cors_origin=origin)
    async with running_frontend(config) as server, aiohttp.ClientSession() as session:
        await wait_for_backends(server, 1)
        async with session.options(server.make_url("/v1/chat/completions"), headers={"origin": origin}) as answer:
            assert answer.status == 204 and answer.headers["access-control-allow-origin"] == origin
        async with session.post(server.make_url("/v1/chat/completions"), json=BODY,
                                headers={"origin": origin}) as answer:
            assert answer.status == 200 and answer.headers["access-control-allow-origin"] == origin
        async with session.post(server.make_url("/v1/chat/completions"), json=BODY,
                                headers={"origin": "http://evil.invalid"}) as answer:
            assert answer.status == 403 and "access-control-allow-origin" not in answer.headers


def test_settings_read_the_key_and_origin_from_the_environment(tmp_path) -> None:
    config = load_config(Environment.read({"DARIO_HOME": str(tmp_path), "DARIO_API_KEY": KEY,
                                           "DARIO_CORS_ORIGIN": "http://a"}))
    assert config.server.api_key == KEY and config.server.cors_origin == "http://a"
    assert KEY not in repr(config)


def test_the_cors_origin_is_kept_as_browsers_send_it_and_a_wildcard_is_refused(tmp_path) -> None:
    home = {"DARIO_HOME": str(tmp_path)}
    upper = load_config(Environment.read(dict(home, DARIO_CORS_ORIGIN="HTTP://LocalHost:5173/")))
    assert upper.server.cors_origin == "http://localhost:5173"
    for wrong in ("*", "null", "localhost:5173", "http://localhost:5173/app", "ftp://x"):
        with pytest.raises(ConfigError, match="DARIO_CORS_ORIGIN"):
            load_config(Environment.read(dict(home, DARIO_CORS_ORIGIN=wrong)))
    (tmp_path / "config.toml").write_text('[server]\ncors_origin = "http://app.lan"\nallowed_hosts = ["Dario.LAN."]\n')
    config = load_config(Environment.read(home))
    assert config.server.cors_origin == "http://app.lan" and config.server.allowed_hosts == ("dario.lan",)
    (tmp_path / "config.toml").write_text('[server]\nallowed_hosts = "dario.lan"\n')
    with pytest.raises(ConfigError, match="allowed_hosts"):
        load_config(Environment.read(home))
